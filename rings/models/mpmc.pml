/* mpmc.pml: the protocol of rings/mpmc_ring.hpp (DPDK rte_ring head/tail, rte_ring_c11_pvt.h).
 *
 * P producers each push K items (producer id, sequence number 0..K-1) in bursts of 1..W; C consumers
 * pop bursts of 1..W until every item is claimed. Ring of N slots. Each operation is the C++'s three
 * steps: move_head (read the other side's tail, claim by CAS on my head), copy, update_tail (wait for
 * the claimer before me, then publish my tail). With -DSP (one producer) or -DSC (one consumer) that
 * side claims with a plain store and does not wait, as sync_mode::single does; -DSINGLE is both.
 *
 * Promela is sequentially consistent: each atomic access is one step and the slot copies are steps of
 * their own between the claim and the tail store, so every interleaving of claims, copies and
 * publications across threads is explored. Indices are free-running modulo 256 (2^32 in C++) from
 * I0 = 254, so runs cross the wrap.
 *
 * Labels are the C++ labels (mpmc_ring.hpp, rings/README.md):
 *   (P) A0 acquire prod.head, A1 acquire cons.tail, R1/A2 CAS prod.head, AW wait on prod.tail,
 *       R0 release prod.tail
 *   (C) A3 acquire cons.head, A4 acquire prod.tail, R2/A5 CAS cons.head, AW wait on cons.tail,
 *       R3 release cons.tail
 * Checked: a consumer reads exactly the item written for the index it claimed (stamp) in a slot that
 * holds one; no slot is written while it holds an unreleased item; each item is taken exactly once
 * (no loss, no duplicate, checked in init at the end); every consumer sees each producer's items in
 * sequence order (FIFO per producer); no invalid end state (a stuck AW wait would be one); no
 * non-progress cycle under weak fairness. -DNO_AW is a mutation that drops the producers' wait: spin
 * finds a consumer reading a slot that an earlier claimer has not written yet.
 */
#ifdef SINGLE
#define SP
#define SC
#endif
#ifdef SP
#define P 1
#endif
#ifdef SC
#define C 1
#endif
#if defined(SP) && !defined(K)
#define K 5
#endif
#ifndef P
#define P 2
#endif
#ifndef C
#define C 2
#endif
#ifndef K
#define K 2
#endif
#ifndef N
#define N 2
#endif
#ifndef W
#define W 2
#endif
#ifndef I0
#define I0 254
#endif
#define TOTAL (P * K)
#define IDX(x) ((x) & 255)
#define SLOT(i) ((i) & (N - 1))
#define MIN(a, b) ((a) < (b) -> (a) : (b))

byte prod_head = I0, prod_tail = I0;  /* (P) */
byte cons_head = I0, cons_tail = I0;  /* (C) */
byte slot_p[N], slot_s[N];            /* item: producer and sequence number */
byte slot_i[N];                       /* ghost: the free-running index the item was written for */
bool held[N];                         /* ghost: written and not yet taken */
byte claimed = 0;                     /* ghost: items claimed by consumers, so they know when to stop */
byte taken[TOTAL];                    /* ghost: how many times each item was taken */

proctype producer(byte p) {
  byte seq = 0, want, old, room, k, i;
  bool ok;
  do
  :: seq == K -> break
  :: else ->
     /* move_head. Local arithmetic is folded into the step of the shared access before it. */
A0:  atomic {  /* A0 acquire prod.head: pairs with R1 of another producer's CAS */
       old = prod_head;
       want = 1;
       do
       :: want < W && seq + want < K -> want++
       :: break
       od
     };
again:
A1:  atomic {  /* A1 acquire cons.tail: pairs with R3 in the consumers' update_tail */
       room = IDX(N + cons_tail - old);
       k = MIN(want, room);
       room = 0
     };
     if
     :: k == 0 -> old = 0; want = 0  /* full: the call returns 0, the caller tries again */
     :: else ->
#ifdef SP
R1:     prod_head = IDX(old + k);  /* single producer: a plain store */
#else
R1_A2:  atomic {  /* CAS prod.head: release on success (R1), acquire reload on failure (A2) */
          if
          :: prod_head == old -> prod_head = IDX(old + k); ok = true
          :: else -> old = prod_head; ok = false
          fi
        };
        if
        :: !ok -> goto again
        :: else
        fi;
#endif
        /* copy */
        i = 0;
        do
        :: i < k ->
           atomic {
             assert(!held[SLOT(old + i)]);  /* no slot overwritten before it is released */
             slot_p[SLOT(old + i)] = p;
             slot_s[SLOT(old + i)] = seq;
             slot_i[SLOT(old + i)] = IDX(old + i);
             held[SLOT(old + i)] = true
           };
           seq++;
           i++
        :: else -> i = 0; break
        od;
        /* update_tail */
#if !defined(SP) && !defined(NO_AW)
AW:     (prod_tail == old);  /* AW acquire: the producer that claimed before me has published */
#endif
R0:     atomic { prod_tail = IDX(old + k); old = 0; k = 0; want = 0 };  /* R0 release prod.tail: pairs with A4 and AW */
progress_push:
        skip
     fi
  od
}

proctype consumer(byte c) {
  byte want, old, room, k, i, s, p, q;
  byte next_seq[P];  /* per producer: the lowest sequence number this consumer may see next */
  bool ok;
  do
  :: claimed == TOTAL -> break
  :: else ->
A3:  atomic {  /* A3 acquire cons.head: pairs with R2 of another consumer's CAS */
       old = cons_head;
       want = 1;
       do
       :: want < W -> want++
       :: break
       od
     };
again:
A4:  atomic {  /* A4 acquire prod.tail: pairs with R0: the slots are written */
       room = IDX(prod_tail - old);
       k = MIN(want, room);
       room = 0
     };
     if
     :: k == 0 -> old = 0; want = 0  /* empty */
     :: else ->
#ifdef SC
R2:     atomic { cons_head = IDX(old + k); claimed = claimed + k };  /* single consumer: a plain store */
#else
R2_A5:  atomic {  /* CAS cons.head: release on success (R2), acquire reload on failure (A5) */
          if
          :: cons_head == old -> cons_head = IDX(old + k); claimed = claimed + k; ok = true
          :: else -> old = cons_head; ok = false
          fi
        };
        if
        :: !ok -> goto again
        :: else
        fi;
#endif
        i = 0;
        do
        :: i < k ->
           atomic {
             s = SLOT(old + i);
             assert(held[s] && slot_i[s] == IDX(old + i));  /* the item written for this index */
             p = slot_p[s];
             q = slot_s[s];
             assert(q >= next_seq[p]);  /* FIFO per producer */
             next_seq[p] = q + 1;
             taken[p * K + q]++;
             held[s] = false;
             s = 0; p = 0; q = 0
           };
           i++
        :: else -> i = 0; break
        od;
#ifndef SC
AW:     (cons_tail == old);  /* AW acquire: the consumer that claimed before me has released */
#endif
R3:     atomic { cons_tail = IDX(old + k); old = 0; k = 0; want = 0 };  /* R3 release cons.tail: pairs with A1 and AW */
progress_pop:
        skip
     fi
  od
}

init {
  byte i;
  atomic {
    i = 0;
    do :: i < P -> run producer(i); i++ :: else -> break od;
    i = 0;
    do :: i < C -> run consumer(i); i++ :: else -> break od;
  };
  (_nr_pr == 1);  /* everyone finished */
  i = 0;
  do
  :: i < TOTAL -> assert(taken[i] == 1); i++  /* no loss, no duplicate */
  :: else -> break
  od;
  assert(prod_head == IDX(I0 + TOTAL) && prod_tail == prod_head && cons_head == prod_head && cons_tail == prod_head)
}
