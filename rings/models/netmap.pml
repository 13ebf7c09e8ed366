/* netmap.pml: the protocol of rings/netmap_ring.hpp, an RX ring (sys/net/netmap.h head/cur/tail).
 *
 * The NIC (kernel side, nic_rx) fills up to W slots at a time with packets 1..M; the user reads
 * [head, tail), keeps each packet by copying it or by swapping the slot's buffer with its spare one
 * (swap_buffers: NS_BUF_CHANGED), gives slots back by moving head (and cur anywhere in [head, tail]),
 * and calls sync() (NIOCRXSYNC): the prologue check hwcur <= head <= cur <= tail, then R1 hands
 * [hwcur, head) to the NIC and A2 moves tail to what the NIC finished. Once, the user also calls
 * sync() with head past tail, which must be refused and change nothing. N slots, N + 1 buffers.
 * Indices are free-running modulo 256 (2^32 in C++) from I0 = 254.
 *
 * Promela is sequentially consistent: the slot/buffer writes and the index stores are separate steps,
 * so every order in which the two threads see them is the order the releases guarantee.
 *
 * Labels are the C++ labels (netmap_ring.hpp, rings/README.md):
 *   R1 release hwcur in sync() (u)    pairs with A1 in nic_rx
 *   A1 acquire hwcur in nic_rx (k)
 *   R2 release done in nic_rx (k)     pairs with A2 in sync()
 *   A2 acquire done in sync() (u)
 * Checked: the user reads only slots it owns and finds the packets in order, once (FIFO, no loss,
 * no duplicate); the NIC writes only slots the user has handed back and only buffers no one else
 * holds, and its buffer address is current whenever it uses a slot (a swapped slot carries
 * NS_BUF_CHANGED); the bad sync is refused; both sides finish; no non-progress cycle. -DNO_BUF_CHANGED
 * is a mutation whose swap forgets the flag: spin finds the NIC writing into a stale buffer.
 */
#ifndef N
#define N 2
#endif
#ifndef M
#define M 4
#endif
#ifndef W
#define W 2
#endif
#ifndef I0
#define I0 254
#endif
#define B (N + 1)
#define IDX(x) ((x) & 255)
#define SLOT(i) ((i) & (N - 1))
#define MIN(a, b) ((a) < (b) -> (a) : (b))

byte hwcur = I0;  /* (k, stored by sync() on the user's thread) std::atomic */
byte done = I0;   /* (k) std::atomic: the NIC finished slots before this index */
byte slot_buf[N]; /* netmap_slot.buf_idx */
bool slot_chg[N]; /* netmap_slot.flags & NS_BUF_CHANGED */
byte buf[B];      /* the buffers' contents: the packet value */
byte spare = N;   /* ghost mirror of the user's spare buffer (the user's own variable) */
bool uown[N];     /* ghost: the slot is the user's: from A2 (tail passes it) to R1 (hwcur passes it) */
byte dma[N];      /* ghost: the buffer address the NIC last loaded for the slot */

proctype nic() {
  byte next = I0;  /* idx_.k.next, private to the NIC */
  byte sent = 0, want, n, i, s;
  do
  :: sent == M -> break
  :: else ->
A1:  atomic {  /* A1 acquire hwcur: pairs with R1 in sync(): the user is done with slots before it */
       n = IDX(hwcur + N - next);
       want = 1;
       do
       :: want < W && sent + want < M -> want++
       :: break
       od;
       n = MIN(want, n);
       want = 0
     };
     if
     :: n == 0 -> skip  /* no room */
     :: else ->
        i = 0;
        do
        :: i < n ->
           atomic {
             s = SLOT(next + i);
             assert(!uown[s]);  /* only slots the user handed back */
             if
             :: slot_chg[s] -> slot_chg[s] = false; dma[s] = slot_buf[s]  /* reload_if_changed */
             :: else
             fi;
             assert(dma[s] == slot_buf[s] && slot_buf[s] != spare);  /* current address, a free buffer */
             sent++;
             buf[slot_buf[s]] = sent;
             s = 0
           };
           i++
        :: else -> i = 0; break
        od;
        next = IDX(next + n);
R2:     atomic { done = next; n = 0 };  /* R2 release done: pairs with A2 in sync() */
progress_nic:
        skip
     fi
  od
}

proctype user() {
  byte head = I0, cur = I0, tail = I0;  /* user_block: (u) head, cur; tail written only in sync() */
  byte r = I0;        /* the next slot to read, head <= r <= tail */
  byte expect = 1;    /* the next packet value: FIFO, no loss, no duplicate */
  byte my = N;        /* the spare buffer */
  bool tried_bad = false, bad = false;
  byte s, t, d, oldhead;
  do
  :: expect > M && head == r -> break
  :: r != tail ->  /* read one packet, keep it by copy or by swapping buffers */
     atomic {
       s = SLOT(r);
       assert(uown[s] && buf[slot_buf[s]] == expect);
       expect++;
       if
       :: skip  /* copy */
       :: t = slot_buf[s]; slot_buf[s] = my; my = t; spare = my;  /* swap_buffers */
#ifndef NO_BUF_CHANGED
          slot_chg[s] = true
#endif
       fi;
       r = IDX(r + 1);
       s = 0; t = 0
     }
  :: r == tail && head != r ->  /* hand back what was read: head = r, cur anywhere in [head, tail] */
     atomic {
       head = r;
       if
       :: cur = head
       :: cur = tail
       fi
     }
  :: r == tail && head == r && expect <= M ->  /* nothing left to read: sync() */
     atomic {
       if
       :: !tried_bad -> tried_bad = true; bad = true; oldhead = head; head = IDX(tail + 1)  /* a bad head */
       :: true
       fi
     };
     /* prologue (nm_rxsync_prologue): hwcur <= head <= cur <= tail */
     if
     :: IDX(head - hwcur) > IDX(tail - hwcur) || IDX(cur - head) > IDX(tail - head) ->
        assert(bad);  /* only the bad head is refused */
        head = oldhead;  /* refused, nothing changed; the user puts its head back */
        bad = false; oldhead = 0
     :: else ->
        assert(!bad);  /* the bad head is never accepted */
R1:     atomic {  /* R1 release hwcur: pairs with A1 in nic_rx: slots before head are the NIC's */
          t = hwcur;
          do
          :: t != head -> uown[SLOT(t)] = false; t = IDX(t + 1)
          :: else -> break
          od;
          hwcur = head;
          t = 0
        };
A2:     atomic {  /* A2 acquire done: pairs with R2 in nic_rx: the slots and buffers are written */
          d = done;
          t = tail;
          do
          :: t != d -> uown[SLOT(t)] = true; t = IDX(t + 1)
          :: else -> break
          od;
          tail = d;
          d = 0; t = 0
        }
     fi
  od
}

init {
  byte i;
  atomic {
    i = 0;
    do
    :: i < N -> slot_buf[i] = i; dma[i] = i; i++
    :: else -> break
    od;
    run nic();
    run user()
  }
}
