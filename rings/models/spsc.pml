/* spsc.pml: the protocol of rings/spsc_ring.hpp (cached opposite index, libxdp/rigtorp style).
 *
 * One producer, one consumer, a ring of N slots, M items with values 1..M, bursts of 1..W items
 * (enqueue_burst / reserve+submit and dequeue_burst / peek+release). Indices are free-running and
 * modulo 256 here (modulo 2^32 in C++): IDX() is the wrap, SLOT() the mask, and they start at I0 = 254
 * so every run crosses the wrap.
 *
 * Promela is sequentially consistent. What the C++ memory orders buy is modelled by the ORDER of two
 * separate steps: the slot writes and the index store R1 (release) that publishes them. With -DWEAK
 * (the planted bug, RINGLAB_PLANT_RING_BUG: R1 relaxed) the store comes first and the writes after,
 * which is one of the orders a relaxed store allows; spin then finds a consumer that reads a slot
 * before it is written. -DEARLY_RELEASE is the mirror mutation on the consumer (R2 before the reads):
 * spin finds the producer overwriting a slot the consumer has not read. -DNO_RELOAD (the producer never
 * refreshes its cached tail) must fail the progress check: both sides spin forever, nothing moves.
 *
 * Labels are the C++ labels (spsc_ring.hpp, rings/README.md):
 *   R1 release head in publish()  pairs with A1 in avail_from()
 *   A1 acquire head in avail_from()
 *   R2 release tail in retire()   pairs with A2 in free_from()
 *   A2 acquire tail in free_from()
 * Checked: every item arrives once, in order (consumer assertion), no slot is written while it holds
 * an item not yet released (producer assertion), both sides finish (no invalid end state), and no
 * cycle without progress under weak fairness (pan -l -f, compiled with -DNP).
 */
#ifndef N
#define N 2
#endif
#ifndef M
#define M 5
#endif
#ifndef W
#define W 2
#endif
#ifndef I0
#define I0 254
#endif
#define IDX(x) ((x) & 255)
#define SLOT(i) ((i) & (N - 1))
#define MIN(a, b) ((a) < (b) -> (a) : (b))

byte head = I0;  /* (P) std::atomic, written by the producer only; read by (C) at A1 */
byte tail = I0;  /* (C) std::atomic, written by the consumer only; read by (P) at A2 */
byte slot[N];    /* the items; 0 = never written */
bool held[N];    /* ghost: the slot holds an item the consumer has not released yet */

active proctype producer() {
  byte h = I0;                     /* own head: a relaxed load of our own index */
  byte cached_tail = IDX(I0 + N);  /* tail + size as last seen (xsk.h's cached_cons) */
  byte next = 1;                   /* value of the next item */
  byte want, free, n, k;
  do
  :: next > M -> break
  :: else ->
     want = 1;  /* any burst 1..W, no more than is left */
     do
     :: want < W && next + want <= M -> want++
     :: break
     od;
     /* free_from(h, want) */
     free = IDX(cached_tail - h);
#ifndef NO_RELOAD
     if
     :: free < want ->
A2:     cached_tail = IDX(tail + N);  /* A2 acquire tail: pairs with R2 in retire() */
        free = IDX(cached_tail - h)
     :: else
     fi;
#endif
     n = MIN(want, free);
     if
     :: n == 0 -> skip  /* looks full after the reload: try again */
     :: else ->
#ifdef WEAK
R1:     head = IDX(h + n);  /* planted bug: relaxed publish, the index may land before the items */
#endif
        k = 0;
        do
        :: k < n ->
           atomic {
             assert(!held[SLOT(h + k)]);  /* no slot overwritten before it is released */
             slot[SLOT(h + k)] = next;
             held[SLOT(h + k)] = true
           };
           next++;
           k++
        :: else -> break
        od;
#ifndef WEAK
R1:     head = IDX(h + n);  /* R1 release head: pairs with A1 in avail_from() */
#endif
        h = IDX(h + n);
progress_push:
        skip
     fi
  od
}

active proctype consumer() {
  byte t = I0;            /* own tail */
  byte cached_head = I0;  /* head as last seen */
  byte expect = 1;        /* the value the next item must have: FIFO, no loss, no duplicate */
  byte want, avail, n, k, v;
  do
  :: expect > M -> break
  :: else ->
     want = 1;
     do
     :: want < W && expect + want <= M -> want++
     :: break
     od;
     /* avail_from(t, want) */
     avail = IDX(cached_head - t);
     if
     :: avail < want ->
A1:     cached_head = head;  /* A1 acquire head: pairs with R1 in publish() */
        avail = IDX(cached_head - t)
     :: else
     fi;
     n = MIN(want, avail);
     if
     :: n == 0 -> skip  /* looks empty after the reload */
     :: else ->
#ifdef EARLY_RELEASE
R2:     tail = IDX(t + n);  /* mutation: the consumer gives the slots back before reading them */
#endif
        k = 0;
        do
        :: k < n ->
           atomic {
             v = slot[SLOT(t + k)];
             assert(v == expect);  /* the item written for this index, in order, once */
             held[SLOT(t + k)] = false
           };
           expect++;
           k++
        :: else -> break
        od;
#ifndef EARLY_RELEASE
R2:     tail = IDX(t + n);  /* R2 release tail: pairs with A2 in free_from() */
#endif
        t = IDX(t + n);
progress_pop:
        skip
     fi
  od
}
