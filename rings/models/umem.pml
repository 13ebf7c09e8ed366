/* umem.pml: the protocol of rings/umem_rings.hpp, AF_XDP's UMEM with its four rings.
 *
 *   user --FILL--> kernel rx --RX--> user --TX--> kernel tx --COMP--> user --FILL--> ...
 *
 * F = N frames, four rings of N entries, each single-producer / single-consumer and driven through
 * libxdp's functions (xsk.h): prod_nb_free (cached consumer + size, reloaded when short),
 * prod_reserve / prod_submit, cons_nb_avail (cached producer, reloaded when short), cons_peek /
 * cons_release. Three threads: the kernel's receive path (FILL -> RX, packets 1..M), the
 * application (RX -> TX, then COMP -> FILL) and the kernel's transmit path (TX -> COMP). With
 * -DRX_ONLY the application puts each received frame straight back on FILL and there is no transmit
 * path: the "umem" queue of the registry (umem_queue). Indices are free-running modulo 256 (2^32 in
 * C++) from I0 = 254.
 *
 * Promela is sequentially consistent: descriptor and frame writes are steps of their own before the
 * index store that publishes them, so every order the releases allow is explored.
 *
 * Labels are the C++ labels (umem_rings.hpp, rings/README.md) with the ring's name, because each
 * thread drives several rings:
 *   R1_<ring> release producer in prod_submit()  pairs with A1_<ring> in cons_nb_avail()
 *   R2_<ring> release consumer in cons_release() pairs with A2_<ring> in prod_nb_free()
 * Checked: a frame is in exactly one place at a time and every hop takes it from where the previous
 * one put it; a descriptor is never overwritten before it is consumed; the application receives and
 * the kernel transmits packets 1..M in order, once each; reserving on TX and on FILL never fails
 * (frames = ring size, as umem_queue relies on); at the end every frame is back on FILL; no invalid end
 * state; no non-progress cycle under weak fairness.
 */
#ifndef N
#define N 2
#endif
#ifndef M
#define M 3
#endif
#ifndef W
#define W 2
#endif
#ifndef I0
#define I0 254
#endif
#define F N
#define FILL 0
#define RX 1
#define TX 2
#define COMP 3
#define IDX(x) ((x) & 255)
#define D(r, i) ((r) * N + ((i) & (N - 1)))
#define MIN(a, b) ((a) < (b) -> (a) : (b))
/* where a frame is (ghost) */
#define APP 0
#define ON_FILL 1
#define ON_RX 2
#define ON_TX 3
#define ON_COMP 4

byte prod[4];      /* struct xdp_ring.producer of each ring: (P) atomic */
byte cons[4];      /* struct xdp_ring.consumer: (C) atomic */
byte desc[4 * N];  /* the descriptors: a frame number (xdp_desc.addr / frame_size) */
bool dheld[4 * N]; /* ghost: the descriptor was produced and not yet consumed */
byte fdata[F];     /* the frame's contents: the packet value */
byte where[F];     /* ghost: the frame's one place */

/* Producer side of ring r: write one descriptor (frame f) at index i; the frame moves to place `to`. */
#define PUT(r, i, f, from, to) \
  assert(!dheld[D(r, i)] && where[f] == from); \
  desc[D(r, i)] = f; dheld[D(r, i)] = true; where[f] = to
/* Consumer side of ring r: take the descriptor at index i into f. */
#define TAKE(r, i, f) \
  assert(dheld[D(r, i)]); \
  f = desc[D(r, i)]; dheld[D(r, i)] = false

proctype kernel_rx() {
  byte fcp = I0, fcc = I0;             /* FILL consumer view: cached_prod, cached_cons */
  byte rcp = I0, rcc = IDX(I0 + N);    /* RX producer view: cached_prod, cached_cons (= consumer + size) */
  byte sent = 0, want, k, e, i, f;
  do
  :: sent == M -> break
  :: else ->
     atomic {
       want = 1;
       do
       :: want < W && sent + want < M -> want++
       :: break
       od;
       e = IDX(fcp - fcc)
     };
     if  /* cons_nb_avail(FILL, want) */
     :: e < want ->
A1_fill: atomic { fcp = prod[FILL]; e = IDX(fcp - fcc) }  /* A1 acquire: pairs with R1_fill (user) */
     :: else
     fi;
     atomic { k = MIN(want, e); e = IDX(rcc - rcp) };
     if  /* prod_nb_free(RX, k) */
     :: e < k ->
A2_rx:  atomic { rcc = IDX(cons[RX] + N); e = IDX(rcc - rcp) }  /* A2 acquire: pairs with R2_rx (user) */
     :: else
     fi;
     atomic { k = MIN(k, e); e = 0; want = 0 };
     if
     :: k == 0 -> skip
     :: else ->
        i = 0;
        do
        :: i < k ->
           atomic {
             TAKE(FILL, fcc + i, f);
             assert(where[f] == ON_FILL);
             where[f] = APP;  /* in the kernel's hands for the copy; no one else may touch it */
             sent++;
             fdata[f] = sent;
             PUT(RX, rcp + i, f, APP, ON_RX);
             f = 0
           };
           i++
        :: else -> i = 0; break
        od;
        atomic { fcc = IDX(fcc + k); rcp = IDX(rcp + k) };
R2_fill: cons[FILL] = fcc;  /* R2 release (cons_release): pairs with A2_fill (user) */
R1_rx:  atomic { prod[RX] = rcp; k = 0 }  /* R1 release (prod_submit): pairs with A1_rx (user) */
progress_rx:
        skip
     fi
  od
}

#ifndef RX_ONLY
proctype kernel_tx() {
  byte tcp = I0, tcc = I0;           /* TX consumer view */
  byte ccp = I0, ccc = IDX(I0 + N);  /* COMP producer view */
  byte sent = 0, k, e, i, f;
  do
  :: sent == M -> break
  :: else ->
     e = IDX(tcp - tcc);
     if  /* cons_nb_avail(TX, W) */
     :: e < W ->
A1_tx:  atomic { tcp = prod[TX]; e = IDX(tcp - tcc) }  /* A1 acquire: pairs with R1_tx (user) */
     :: else
     fi;
     atomic { k = MIN(W, e); e = IDX(ccc - ccp) };
     if  /* prod_nb_free(COMP, k) */
     :: e < k ->
A2_comp: atomic { ccc = IDX(cons[COMP] + N); e = IDX(ccc - ccp) }  /* A2 acquire: pairs with R2_comp */
     :: else
     fi;
     atomic { k = MIN(k, e); e = 0 };
     if
     :: k == 0 -> skip
     :: else ->
        i = 0;
        do
        :: i < k ->
           atomic {
             TAKE(TX, tcc + i, f);
             assert(where[f] == ON_TX);
             sent++;
             assert(fdata[f] == sent);  /* sent in order, once each, with the received bytes */
             where[f] = APP;
             PUT(COMP, ccp + i, f, APP, ON_COMP);
             f = 0
           };
           i++
        :: else -> i = 0; break
        od;
        atomic { tcc = IDX(tcc + k); ccp = IDX(ccp + k) };
R2_tx:  cons[TX] = tcc;  /* R2 release: pairs with A2_tx (user) */
R1_comp: atomic { prod[COMP] = ccp; k = 0 }  /* R1 release: pairs with A1_comp (user) */
progress_tx:
        skip
     fi
  od
}
#endif

proctype user() {
  byte rcp = I0, rcc = I0;                    /* RX consumer view */
  byte fcp = IDX(I0 + F), fcc = IDX(I0 + N);  /* FILL producer view (all F frames already on FILL) */
#ifndef RX_ONLY
  byte tcp = I0, tcc = IDX(I0 + N);           /* TX producer view */
  byte ccp = I0, ccc = I0;                    /* COMP consumer view */
  byte completed = 0;
#endif
  byte expect = 1, k, e, i, f;
  do
#ifdef RX_ONLY
  :: expect > M -> break
#else
  :: expect > M && completed == M -> break
#endif
  :: else ->
     /* receive: cons_nb_avail(RX, W) */
     e = IDX(rcp - rcc);
     if
     :: e < W ->
A1_rx:  atomic { rcp = prod[RX]; e = IDX(rcp - rcc) }  /* A1 acquire: pairs with R1_rx (kernel rx) */
     :: else
     fi;
     atomic { k = MIN(W, e); e = 0 };
     if
     :: k == 0 -> skip
     :: else ->
#ifdef RX_ONLY
        e = IDX(fcc - fcp);  /* prod_reserve(FILL, k) */
        if
        :: e < k ->
A2_fill:   atomic { fcc = IDX(cons[FILL] + N); e = IDX(fcc - fcp) }  /* A2 acquire: pairs with R2_fill */
        :: else
        fi;
#define OUT FILL
#define OUTP fcp
#define OUT_WHERE ON_FILL
#else
        e = IDX(tcc - tcp);  /* prod_reserve(TX, k) */
        if
        :: e < k ->
A2_tx:     atomic { tcc = IDX(cons[TX] + N); e = IDX(tcc - tcp) }  /* A2 acquire: pairs with R2_tx */
        :: else
        fi;
#define OUT TX
#define OUTP tcp
#define OUT_WHERE ON_TX
#endif
        assert(e >= k);  /* never fails: frames = ring size */
        i = 0;
        do
        :: i < k ->
           atomic {
             TAKE(RX, rcc + i, f);
             assert(where[f] == ON_RX && fdata[f] == expect);  /* in order, once each */
             expect++;
             where[f] = APP;
             PUT(OUT, OUTP + i, f, APP, OUT_WHERE);
             f = 0
           };
           i++
        :: else -> i = 0; e = 0; break
        od;
        atomic { rcc = IDX(rcc + k); OUTP = IDX(OUTP + k) };
R2_rx:  cons[RX] = rcc;  /* R2 release: pairs with A2_rx (kernel rx) */
#ifdef RX_ONLY
R1_fill: atomic { prod[FILL] = fcp; k = 0 }  /* R1 release: pairs with A1_fill (kernel rx) */
#else
R1_tx:  atomic { prod[TX] = tcp; k = 0 }  /* R1 release: pairs with A1_tx (kernel tx) */
#endif
progress_recv:
        skip
     fi;
#ifndef RX_ONLY
     /* reap completions: cons_nb_avail(COMP, W), then prod_reserve(FILL, k) */
     e = IDX(ccp - ccc);
     if
     :: e < W ->
A1_comp: atomic { ccp = prod[COMP]; e = IDX(ccp - ccc) }  /* A1 acquire: pairs with R1_comp */
     :: else
     fi;
     atomic { k = MIN(W, e); e = IDX(fcc - fcp) };
     if
     :: k == 0 -> e = 0
     :: else ->
        if
        :: e < k ->
A2_fill:   atomic { fcc = IDX(cons[FILL] + N); e = IDX(fcc - fcp) }  /* A2 acquire: pairs with R2_fill */
        :: else
        fi;
        assert(e >= k);  /* never fails: frames = ring size */
        i = 0;
        do
        :: i < k ->
           atomic {
             TAKE(COMP, ccc + i, f);
             assert(where[f] == ON_COMP);
             completed++;
             where[f] = APP;
             PUT(FILL, fcp + i, f, APP, ON_FILL);
             f = 0
           };
           i++
        :: else -> i = 0; e = 0; break
        od;
        atomic { ccc = IDX(ccc + k); fcp = IDX(fcp + k) };
R2_comp: cons[COMP] = ccc;  /* R2 release: pairs with A2_comp (kernel tx) */
R1_fill: atomic { prod[FILL] = fcp; k = 0 }  /* R1 release: pairs with A1_fill (kernel rx) */
progress_reap:
        skip
     fi
#endif
  od
}

init {
  byte i;
  atomic {  /* xdp_ring_memory at I0, then fill_frames(0, F): every frame on FILL */
    i = 0;
    do
    :: i < 4 -> prod[i] = I0; cons[i] = I0; i++
    :: else -> break
    od;
    i = 0;
    do
    :: i < F -> where[i] = APP; PUT(FILL, I0 + i, i, APP, ON_FILL); i++
    :: else -> break
    od;
    prod[FILL] = IDX(I0 + F);
    run kernel_rx();
#ifndef RX_ONLY
    run kernel_tx();
#endif
    run user()
  };
  (_nr_pr == 1);
  i = 0;
  do
  :: i < F -> assert(where[i] == ON_FILL); i++  /* every frame back on FILL */
  :: else -> break
  od
}
