/* batch.pml: the protocol of rings/batch_ring.hpp (spsc's cached indices + MCRingBuffer's batched
 * publication).
 *
 * One producer, one consumer, a ring of N slots, M items with values 1..M, a batch of K. Each step of
 * either side is, by nondeterministic choice, a single-item call (try_push / try_pop: publish head or
 * give back tail only when K are pending, or when the call finds the ring full / empty) or a burst of
 * 1..W (enqueue_burst / dequeue_burst: always publish / give back at the end of the call). When the
 * producer has pushed all M items it calls flush_producer(), as the C++ contract asks of a producer
 * going idle. Indices are free-running and modulo 256 here (2^32 in C++), starting at I0 = 254 so every
 * run crosses the wrap.
 *
 * Promela is sequentially consistent; the release R1 is modelled by the ORDER of the slot writes and
 * the head store (see spsc.pml). Variants that must fail:
 *   -DWEAK      R1 placed before the item writes (a relaxed publish): the consumer reads a slot that
 *               was never written.
 *   -DNO_RULES  without both deadlock rules (a full try_push publishes what it holds, an empty try_pop
 *               gives back what it holds): the producer holding unpublished items waits for room while
 *               the consumer holding unreturned slots waits for items, forever (a non-progress cycle;
 *               it needs 2(K-1) >= N, as with the default N = K = 2). Either rule alone is enough:
 *               -DNO_FULL_RULE and -DNO_EMPTY_RULE each pass the progress check.
 *
 *   -DIDLE=P    the consumer's idle polls (burst_tuning::idle_polls = P): after a reload of head that
 *               found nothing new, the next P calls that find the cached head short do not reload it.
 *               Checked like the default (safety and progress): a delayed reload loses nothing and,
 *               being bounded, stops nothing.
 *
 * Labels are the C++ labels (batch_ring.hpp, rings/README.md): one step each, as the C++ has one
 * publish() and one retire():
 *   R1 release head in publish()  pairs with A1 in avail_from()
 *   A1 acquire head in avail_from()
 *   R2 release tail in retire()   pairs with A2 in free_from()
 *   A2 acquire tail in free_from()
 * Checked: every item arrives once, in order (consumer assertion); no slot is written while it holds an
 * item not yet read (producer assertion); both sides finish (no invalid end state); no cycle without
 * progress under weak fairness (pan -l -f, compiled with -DNP).
 */
#ifndef N
#define N 2
#endif
#ifndef K
#define K 2
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
#ifdef NO_RULES
#define NO_FULL_RULE
#define NO_EMPTY_RULE
#endif
#ifdef NO_FULL_RULE
#define FULL_RULE false
#else
#define FULL_RULE (n == 0)
#endif
#ifdef NO_EMPTY_RULE
#define EMPTY_RULE false
#else
#define EMPTY_RULE (n == 0)
#endif

byte head = I0;  /* (P) std::atomic: published, written once per batch; read by (C) at A1 */
byte tail = I0;  /* (C) std::atomic: given back, written once per batch; read by (P) at A2 */
byte slot[N];    /* the items; 0 = never written */
bool held[N];    /* ghost: the slot holds an item the consumer has not read yet */

active proctype producer() {
  byte next = I0;                  /* (P) next index to write */
  byte published = I0;             /* (P) last value stored to head */
  byte cached_tail = IDX(I0 + N);  /* (P) tail + size as last seen */
  byte val = 1;                    /* value of the next item */
  bool single;
  byte want, free, n, k, nn;
  do
  :: val > M && next == published -> break
  :: else ->
     if
     :: val > M -> single = false; want = 0  /* flush_producer(): publish what is left */
     :: val <= M -> single = true; want = 1  /* try_push */
     :: val <= M -> single = false; want = 1;  /* enqueue_burst of 1..W */
        do
        :: want < W && val + want <= M -> want++
        :: break
        od
     fi;
     /* free_from(next, want) */
     free = IDX(cached_tail - next);
     if
     :: free < want ->
A2:     cached_tail = IDX(tail + N);  /* A2 acquire tail: pairs with R2 in retire() */
        free = IDX(cached_tail - next)
     :: else
     fi;
     n = MIN(want, free);
     nn = IDX(next + n);
#ifdef WEAK
     /* the mutation: head stored before the items are written */
     /* publish(): a burst (or the final flush) always, try_push once K are pending or when it found
      * the ring full */
     if
     :: nn != published && (!single || IDX(nn - published) >= K || FULL_RULE) ->
R1:     head = nn;  /* R1 release head: pairs with A1 in avail_from() */
        published = nn
     :: else
     fi;
#endif
     k = 0;
     do
     :: k < n ->
        atomic {
          assert(!held[SLOT(next + k)]);  /* no slot overwritten before it is read */
          slot[SLOT(next + k)] = val;
          held[SLOT(next + k)] = true
        };
        val++;
        k++
     :: else -> break
     od;
#ifndef WEAK
     /* publish(): a burst (or the final flush) always, try_push once K are pending or when it found
      * the ring full */
     if
     :: nn != published && (!single || IDX(nn - published) >= K || FULL_RULE) ->
R1:     head = nn;  /* R1 release head: pairs with A1 in avail_from() */
        published = nn
     :: else
     fi;
#endif
     next = nn;
     if
     :: n > 0 ->
progress_push:
        skip
     :: else
     fi
  od
}

active proctype consumer() {
  byte next = I0;         /* (C) next index to read */
  byte retired = I0;      /* (C) last value stored to tail */
  byte cached_head = I0;  /* (C) head as last seen */
  byte expect = 1;        /* the value the next item must have: FIFO, no loss, no duplicate */
#ifdef IDLE
  byte idle_left = 0;     /* (C) short calls left that do not reload head (burst_tuning::idle_polls) */
  byte before;
#endif
  bool single;
  byte want, avail, n, k, v;
  do
  :: expect > M -> break
  :: else ->
     if
     :: single = true; want = 1  /* try_pop */
     :: single = false; want = 1;  /* dequeue_burst of 1..W */
        do
        :: want < W && expect + want <= M -> want++
        :: break
        od
     fi;
     /* avail_from(next, want) */
     avail = IDX(cached_head - next);
     if
#ifdef IDLE
     :: avail < want && idle_left > 0 ->  /* an idle poll: the cached head, no reload */
        idle_left--
     :: avail < want && idle_left == 0 ->
        before = cached_head;
A1:     cached_head = head;  /* A1 acquire head: pairs with R1 in publish() */
        if
        :: cached_head == before -> idle_left = IDLE  /* nothing new: the next IDLE short calls do not reload */
        :: else
        fi;
        avail = IDX(cached_head - next)
#else
     :: avail < want ->
A1:     cached_head = head;  /* A1 acquire head: pairs with R1 in publish() */
        avail = IDX(cached_head - next)
#endif
     :: else
     fi;
     n = MIN(want, avail);
     k = 0;
     do
     :: k < n ->
        atomic {
          v = slot[SLOT(next + k)];
          assert(v == expect);  /* the item written for this index, in order, once */
          held[SLOT(next + k)] = false
        };
        expect++;
        k++
     :: else -> break
     od;
     next = IDX(next + n);
     /* retire(): a burst always, try_pop once K are held or when it found the ring empty */
     if
     :: next != retired && (!single || IDX(next - retired) >= K || EMPTY_RULE) ->
R2:     tail = next;  /* R2 release tail: pairs with A2 in free_from() */
        retired = next
     :: else
     fi;
     if
     :: n > 0 ->
progress_pop:
        skip
     :: else
     fi
  od
}
