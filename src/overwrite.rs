//! The drop-oldest ring: a full ring overwrites its oldest unread event, so
//! it always holds the most recent `capacity` events ("the last N VNC
//! connections"), and the loss is still exact.
//!
//! Every push is accepted and gets the next sequence number (0, 1, 2, ...);
//! a push into a full ring evicts the oldest unread event (handed back by
//! [`Producer::push`]), and the consumer receives [`Delivery::Lost`] for the
//! evicted attempts right before the oldest event that survived. The drop
//! count is published at once, so an overflow is known before the consumer
//! reaches the gap.
//!
//! The default ring ([`crate::ring`]) drops the *new* event instead; it is
//! cheaper (see the costs below) and keeps the oldest events.
//!
//! # Why a different ring
//!
//! Here the consumer may be reading the oldest event while the producer
//! wants to evict it, and a producer that has evicted the oldest event may
//! come round the ring to the slot the consumer is still reading. A ring that
//! stores values in its slots would make the producer wait for the consumer
//! there (crossbeam's `ArrayQueue::force_push` spins on a slot stamp), or let
//! the consumer read optimistically and retry, which tears non-`Copy` values.
//! This ring moves *ownership* of storage instead, so neither side ever waits
//! for the other and no value is ever read by two threads.
//!
//! # The protocol
//!
//! Values live in `capacity + 2` *cells*. Each of the `capacity` slots is one
//! atomic word naming a cell, with a flag and a turn:
//!
//! ```text
//!   bits:  [ turn (the lap of the position, + 1) | FULL | cell index ]
//!   FULL(turn, c): the event of the slot's position in lap `turn - 1` is in
//!                  cell c, unread;
//!   FREE(turn, c): that position was taken by the consumer; cell c is empty.
//! ```
//!
//! Every cell belongs to exactly one owner: a slot (the cell its word names),
//! the producer (one empty *spare* cell), or the consumer (one spare cell).
//! Only these steps move cells, each one atomic operation on a slot word:
//!
//! - **push, slot free** (the word is `FREE`, from the previous lap): the
//!   producer writes the value into its spare cell, then stores
//!   `FULL(turn, spare)`; the cell the word named (the consumer's returned
//!   spare) becomes its new spare. Only the producer writes a `FREE` word, so
//!   a load and a store suffice.
//! - **push, slot full** (the word is `FULL` from the previous lap: the ring
//!   is full and this is the oldest event): the producer writes its spare,
//!   then a compare-and-swap `FULL(old) -> FULL(turn, spare)`. If it wins, it
//!   owns the evicted cell: it moves the old event out (and returns it) and
//!   keeps the cell as its spare. If it loses, the consumer took that event
//!   just before: the word is `FREE` now, and the push proceeds as above.
//! - **claim** (the consumer at its next position, `head`): a compare-and-swap
//!   `FULL(turn, c) -> FREE(turn, spare)`. If it wins, cell c is the
//!   consumer's: it moves the event out, and c is its next spare. If it
//!   loses, the producer evicted that event: a gap.
//!
//! The two compare-and-swaps race only on a `FULL` word of the oldest event,
//! and exactly one of them wins; so every event is either delivered or
//! evicted, never both (no double drop), never neither (no leak: the cells
//! that slots name `FULL` are dropped with the ring). A `Delivery` is built
//! only from a cell its builder owns, so it is never torn, whatever `T` is.
//!
//! # Where the gap stands
//!
//! Positions (= sequence numbers) are counted by both sides; the consumer
//! compares the turn in the word with the turn of its `head`. The same turn:
//! the event of `head` is there (claim it). A later turn (or a lost claim):
//! the producer has written position `head + k * capacity` into this slot,
//! so every position from `head` to `head + (k - 1) * capacity` was evicted
//! (the producer overwrote each of them one lap later, and the consumer had
//! not taken any of them). Positions below `tail - capacity` (`tail` loaded
//! just after) were evicted too. The consumer reports them as one
//! [`Delivery::Lost`] and moves `head` past them, before the oldest event
//! that survived; if the producer evicts that one too meanwhile, the next
//! claim fails and reports the next gap, adjacent to the first. The consumer
//! reads a slot only below a `tail` it loaded, so a slot never looks
//! "not written yet".
//!
//! # Memory ordering
//!
//! Slot words carry ownership; `tail` carries publication.
//!
//! 1. *A value is written before it is read.* The producer writes a cell
//!    and the slot word naming it, then stores `tail` (Release). The
//!    consumer claims a position only below a `tail` it loaded with Acquire,
//!    and only if the slot word is that very position's; so its read of the
//!    cell comes after the write. (The slot word itself is stored Relaxed:
//!    a consumer that sees it early, before that tail, never reads the cell
//!    it names.)
//! 2. *A cell is read out before it is reused.* The consumer moves the event
//!    out of its cell, and hands the (now empty) cell back in its next claim,
//!    a Release compare-and-swap writing `FREE`; the producer reads a `FREE`
//!    word with Acquire (the load before its store, or its failed
//!    compare-and-swap) before it writes into the cell it names.
//! 3. *An evicted cell* was written by the producer itself and never touched
//!    by the consumer (whose claim failed or never happened): no
//!    cross-thread access, so a successful eviction is Relaxed.
//! 4. *The tail* is stored after each slot word: a consumer that loads it
//!    with Acquire sees every slot word below it written (or overwritten
//!    later), so it never mistakes a published position for an empty one,
//!    and a drain knows where to end.
//! 5. *The head.* The consumer publishes its position (Release) after its
//!    claims; the producer's Acquire load of it in
//!    [`Producer::free_slots`] makes the claims below it visible, with the
//!    reads before them, so the slots it counts as free are `FREE` and their
//!    cells ready for reuse: [`Producer::push_iter`] never evicts.
//! 6. *The drop count* is stored (Release) after each eviction; the consumer
//!    reports the larger of it and the losses it has itself delivered, so a
//!    `Lost` it has seen is always counted.
//!
//! loom checks this protocol (`tests/loom.rs`, the `overwrite_*` models),
//! including the data-race freedom of every cell access.
//!
//! # Progress and cost
//!
//! Both sides are wait-free: a push is one cell write, one load and one
//! store of the slot word (plus a compare-and-swap when it evicts) and one
//! store of `tail`; a claim is one load and one compare-and-swap of the slot
//! word and one cell read. The compare-and-swap per event is what the
//! default ring does not pay; runs ([`Drain::next_run`]) hold one event each,
//! since consecutive events are in scattered cells.
//!
//! # Turns wrap
//!
//! The turn field has `63 - log2(capacity + 2)` bits (at least 31, as the
//! capacity is at most 2^32 - 2), so it wraps after 2^61 pushes or more:
//! decades at a billion pushes a second, for a consumer asleep between two
//! of its steps. Even then only sequence numbers could be wrong: a cell
//! changes hands only through an atomic operation on the current word.

use std::marker::PhantomData;
use std::mem::MaybeUninit;

use crossbeam_utils::CachePadded;

use crate::ring::{check_capacity, try_slice, BuildError, Delivery};
#[cfg(not(eventsig_loom))]
use crate::ring::{Events, Run};
use crate::sync::{Arc, AtomicU64, Ordering, UnsafeCell};

type Cell<T> = UnsafeCell<MaybeUninit<T>>;

/// The largest capacity: cell indices must fit in 32 bits, so that the turn
/// keeps at least 31 bits of a slot word.
const MAX_CAPACITY: u64 = (1 << 32) - 2;

/// The bit layout of a slot word, fixed at construction.
#[derive(Debug, Clone, Copy)]
struct Layout {
    /// Bits of the cell index (enough for `capacity + 1`).
    cell_bits: u32,
}

impl Layout {
    fn new(capacity: usize) -> Layout {
        let max_cell = capacity as u64 + 1;
        Layout {
            cell_bits: u64::BITS - max_cell.leading_zeros(),
        }
    }

    #[inline]
    fn full_bit(self) -> u64 {
        1 << self.cell_bits
    }

    #[inline]
    fn turn_shift(self) -> u32 {
        self.cell_bits + 1
    }

    #[inline]
    fn word(self, turn: u64, full: bool, cell: usize) -> u64 {
        (turn << self.turn_shift()) | (u64::from(full) << self.cell_bits) | cell as u64
    }

    #[inline]
    fn cell(self, word: u64) -> usize {
        (word & (self.full_bit() - 1)) as usize
    }

    #[inline]
    fn is_full(self, word: u64) -> bool {
        word & self.full_bit() != 0
    }

    /// How many turns the word is ahead of `turn` (modulo the field width):
    /// 0 for the same turn, the field's maximum for the turn before.
    #[inline]
    fn turns_ahead(self, word: u64, turn: u64) -> u64 {
        (word >> self.turn_shift()).wrapping_sub(turn) & (u64::MAX >> self.turn_shift())
    }
}

/// A position's slot index and turn, counted along with it (no division on
/// the hot paths).
#[derive(Debug, Clone, Copy)]
struct Cursor {
    /// The position: the sequence number of the attempt.
    pos: u64,
    /// `pos % capacity`.
    index: usize,
    /// `pos / capacity + 1`: the turn a slot word holding `pos` carries.
    turn: u64,
}

impl Cursor {
    fn at(pos: u64, cap: usize) -> Cursor {
        let cap = cap as u64;
        Cursor {
            pos,
            // The remainder is below the capacity, a `usize`.
            index: (pos % cap) as usize,
            turn: pos / cap + 1,
        }
    }

    #[inline]
    fn advance(&mut self, cap: usize) {
        self.pos += 1;
        self.index += 1;
        if self.index == cap {
            self.index = 0;
            self.turn += 1;
        }
    }
}

/// Words written by the producer only.
struct ProducerWords {
    /// Next position the producer writes (every push is stored).
    tail: AtomicU64,
    /// Events evicted so far.
    dropped: AtomicU64,
}

struct Inner<T> {
    /// Next position the consumer reads, as published by it (see the module
    /// docs, rule 5).
    head: CachePadded<AtomicU64>,
    producer: CachePadded<ProducerWords>,
    /// One word per slot (see the module docs for the layout).
    slots: Box<[AtomicU64]>,
    /// `capacity + 2` cells.
    cells: Box<[Cell<T>]>,
    layout: Layout,
}

// SAFETY: values of `T` move from the producer's thread to the consumer's
// (or are dropped on the producer's when evicted), so `T: Send` is required
// and sufficient; each cell is accessed only by its owner (module docs).
unsafe impl<T: Send> Sync for Inner<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for Inner<T> {}

impl<T> Inner<T> {
    #[inline]
    fn slot(&self, index: usize) -> &AtomicU64 {
        &self.slots[index]
    }

    #[inline]
    fn cell(&self, index: usize) -> &Cell<T> {
        &self.cells[index]
    }
}

impl<T> Drop for Inner<T> {
    fn drop(&mut self) {
        // Both handles are gone (the last `Arc` drop synchronises with them):
        // the cells named by `FULL` words hold the unread events; the spares
        // and the cells of `FREE` words are empty.
        // A loom model that failed is unwinding: a second failure report
        // from here would abort the process before loom reports the first
        // (the mutant check in `tests/loom.rs` catches that report). Leak.
        #[cfg(eventsig_loom)]
        if std::thread::panicking() {
            return;
        }
        let layout = self.layout;
        for slot in self.slots.iter() {
            let word = slot.load(Ordering::Relaxed);
            if layout.is_full(word) {
                // SAFETY: a `FULL` word's cell holds an initialised event
                // that nobody took; nobody else can reach it any more.
                self.cells[layout.cell(word)].with_mut(|p| unsafe { (*p).assume_init_drop() });
            }
        }
    }
}

/// Builds a drop-oldest ring of exactly `capacity` slots and returns its two
/// halves.
///
/// # Errors
///
/// [`BuildError::ZeroCapacity`] for 0, [`BuildError::CapacityTooLarge`] above
/// 2^32 - 2 events or when the memory cannot be allocated (checked, never a
/// panic or an abort).
///
/// ```
/// use eventsig::{overwrite, BuildError, Delivery};
/// let (mut tx, mut rx) = overwrite::ring::<u32>(2)?;
/// for i in 0..5 {
///     tx.push(i); // never refused: the oldest unread event gives way
/// }
/// let got: Vec<_> = rx.drain().collect();
/// assert_eq!(got, [Delivery::Lost { first: 0, count: 3 }, Delivery::Event(3), Delivery::Event(4)]);
/// assert!(matches!(overwrite::ring::<u8>(0), Err(BuildError::ZeroCapacity)));
/// # Ok::<(), BuildError>(())
/// ```
pub fn ring<T>(capacity: usize) -> Result<(Producer<T>, Consumer<T>), BuildError> {
    // Cell indices fit in 32 bits, and `capacity + 2` in a `usize`.
    check_capacity(capacity, |c| {
        c as u64 <= MAX_CAPACITY && c.checked_add(2).is_some()
    })?;
    let cell_count = capacity + 2;
    let layout = Layout::new(capacity);
    // Slot i starts `FREE` in turn 0 with cell i; the producer's spare is
    // cell `capacity`, the consumer's `capacity + 1`.
    let slots = try_slice(capacity, capacity, |i| {
        AtomicU64::new(layout.word(0, false, i))
    })?;
    let cells = try_slice(capacity, cell_count, |_| {
        UnsafeCell::new(MaybeUninit::uninit())
    })?;
    let inner = Arc::new(Inner {
        head: CachePadded::new(AtomicU64::new(0)),
        producer: CachePadded::new(ProducerWords {
            tail: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        }),
        slots,
        cells,
        layout,
    });
    let producer = Producer {
        inner: Arc::clone(&inner),
        layout,
        cap: capacity,
        tail: Cursor::at(0, capacity),
        spare: capacity,
        dropped: 0,
        _not_sync: PhantomData,
    };
    let consumer = Consumer {
        inner,
        layout,
        cap: capacity,
        head: Cursor::at(0, capacity),
        published_head: 0,
        cached_tail: 0,
        spare: capacity + 1,
        taken: 0,
        reported: 0,
        _not_sync: PhantomData,
    };
    Ok((producer, consumer))
}

/// The sending half of an overwriting [`ring()`]: `Send`, not `Sync` (one
/// producer).
///
/// ```
/// let (mut tx, mut rx) = eventsig::overwrite::ring::<String>(8)?;
/// let producer = std::thread::spawn(move || {
///     for i in 0..100 {
///         tx.push(format!("vnc client {i}")); // an evicted one comes back
///     }
/// });
/// producer.join().unwrap();
/// let last: Vec<_> = rx.drain().filter_map(|d| d.event()).collect();
/// assert_eq!(last.len(), 8);
/// assert_eq!(last[7], "vnc client 99");
/// # Ok::<(), eventsig::BuildError>(())
/// ```
///
/// ```compile_fail
/// fn sync<T: Sync>() {}
/// sync::<eventsig::overwrite::Producer<u32>>();
/// ```
pub struct Producer<T> {
    inner: Arc<Inner<T>>,
    layout: Layout,
    cap: usize,
    tail: Cursor,
    /// The empty cell this side owns.
    spare: usize,
    dropped: u64,
    _not_sync: PhantomData<std::cell::Cell<()>>,
}

impl<T> Producer<T> {
    /// Appends `value`; if the ring is full, the oldest unread event gives
    /// way and is handed back (the consumer will see it as part of a
    /// [`Delivery::Lost`] gap). Every push uses up one sequence number.
    ///
    /// Never blocks, never waits for the consumer, never allocates.
    ///
    /// ```
    /// let (mut tx, _rx) = eventsig::overwrite::ring(1)?;
    /// assert_eq!(tx.push("a"), None);
    /// assert_eq!(tx.push("b"), Some("a")); // "a" was never read: evicted
    /// assert_eq!(tx.dropped(), 1);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    #[inline]
    pub fn push(&mut self, value: T) -> Option<T> {
        let spare = self.spare;
        // SAFETY: the spare cell is this side's alone and empty (module docs,
        // rule 2: the consumer's reads of it happened before the Acquire load
        // through which we got it).
        self.inner
            .cell(spare)
            .with_mut(|p| unsafe { (*p).write(value) });
        let slot = self.inner.slot(self.tail.index);
        let new = self.layout.word(self.tail.turn, true, spare);
        // Acquire: a `FREE` word hands us the consumer's spare; pairs with
        // its claiming compare-and-swap (Release), rule 2.
        let old = slot.load(Ordering::Acquire);
        let mut evicted = None;
        if self.layout.is_full(old) {
            // The oldest unread event: evict it, unless the consumer takes
            // it first. Relaxed on success: the evicted cell holds our own
            // write (rule 3), and the tail publishes the new value (rule 1).
            // Acquire on failure: the word is `FREE` now, as in the load
            // above.
            match slot.compare_exchange(old, new, Ordering::Relaxed, Ordering::Acquire) {
                Ok(_) => evicted = Some(self.layout.cell(old)),
                Err(freed) => {
                    debug_assert!(!self.layout.is_full(freed));
                    // Relaxed: the tail publishes the value (rule 1).
                    slot.store(new, Ordering::Relaxed);
                    self.spare = self.layout.cell(freed);
                }
            }
        } else {
            // Only the producer writes a `FREE` word: nobody raced us.
            // Relaxed: the tail publishes the value (rule 1).
            slot.store(new, Ordering::Relaxed);
            self.spare = self.layout.cell(old);
        }
        self.tail.advance(self.cap);
        // Release: the value and the slot word above are visible to whoever
        // sees this tail (rules 1 and 4); pairs with the Acquire loads of
        // `tail` in the consumer.
        self.inner
            .producer
            .tail
            .store(self.tail.pos, Ordering::Release);
        evicted.map(|cell| self.take_evicted(cell))
    }

    /// Moves the evicted event out of `cell`, which becomes the spare, and
    /// publishes the drop count.
    #[cold]
    fn take_evicted(&mut self, cell: usize) -> T {
        // SAFETY: our compare-and-swap replaced the word naming this cell,
        // so it is ours; it holds the event we wrote a turn ago, which the
        // consumer never took (its claim would have changed the word).
        let value = self
            .inner
            .cell(cell)
            .with_mut(|p| unsafe { (*p).assume_init_read() });
        self.spare = cell;
        self.dropped += 1;
        // Release: rule 6 (the count is a number; it comes after the
        // eviction it counts).
        self.inner
            .producer
            .dropped
            .store(self.dropped, Ordering::Release);
        value
    }

    /// Pushes items from `items` while there are free slots, evicting
    /// nothing, then publishes them with one store of the tail. Returns how
    /// many were pushed; stops at the first item that does not fit, leaving
    /// it in the iterator (it is not an attempt: no sequence number).
    ///
    /// ```
    /// let (mut tx, _rx) = eventsig::overwrite::ring(2)?;
    /// let mut items = ["a", "b", "c"].into_iter();
    /// assert_eq!(tx.push_iter(&mut items), 2);
    /// assert_eq!(items.next(), Some("c"));
    /// assert_eq!(tx.dropped(), 0);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn push_iter<I: Iterator<Item = T>>(&mut self, items: &mut I) -> usize {
        let room = self.free_slots();
        let mut pushed = 0;
        while pushed < room {
            let Some(value) = items.next() else { break };
            let spare = self.spare;
            // SAFETY: as in `push`.
            self.inner
                .cell(spare)
                .with_mut(|p| unsafe { (*p).write(value) });
            let slot = self.inner.slot(self.tail.index);
            // Relaxed: the slot is among the free ones counted from the
            // consumer's published head, whose Acquire load ordered the
            // claim that freed it, and the consumer's reads of the cell the
            // word names, before us (rule 5).
            let old = slot.load(Ordering::Relaxed);
            debug_assert!(!self.layout.is_full(old));
            // Relaxed: as in `push`.
            slot.store(
                self.layout.word(self.tail.turn, true, spare),
                Ordering::Relaxed,
            );
            self.spare = self.layout.cell(old);
            self.tail.advance(self.cap);
            pushed += 1;
        }
        if pushed > 0 {
            // Release: as in `push`.
            self.inner
                .producer
                .tail
                .store(self.tail.pos, Ordering::Release);
        }
        pushed
    }

    /// Slots not holding an unread event, as far as the consumer has
    /// published its position; `> 0` means the next push evicts nothing.
    ///
    /// ```
    /// let (mut tx, _rx) = eventsig::overwrite::ring::<u8>(4)?;
    /// tx.push(1);
    /// assert_eq!(tx.free_slots(), 3);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn free_slots(&mut self) -> usize {
        // Acquire: the consumer's claims below its published head are
        // visible (rule 5); pairs with the Release store in `publish`.
        let head = self.inner.head.load(Ordering::Acquire);
        let unread = self.tail.pos.saturating_sub(head);
        // Below `capacity`, so a `usize`.
        (self.cap as u64).saturating_sub(unread) as usize
    }

    /// The ring's capacity, exactly as asked.
    ///
    /// ```
    /// let (tx, _rx) = eventsig::overwrite::ring::<u8>(100)?;
    /// assert_eq!(tx.capacity(), 100);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Pushes so far: the sequence number the next push will get.
    ///
    /// ```
    /// let (mut tx, _rx) = eventsig::overwrite::ring::<u8>(1)?;
    /// tx.push(1);
    /// tx.push(2);
    /// assert_eq!(tx.attempts(), 2);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn attempts(&self) -> u64 {
        self.tail.pos
    }

    /// Unread events evicted so far.
    ///
    /// ```
    /// let (mut tx, _rx) = eventsig::overwrite::ring::<u8>(1)?;
    /// tx.push(1);
    /// tx.push(2);
    /// assert_eq!(tx.dropped(), 1);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

/// What a drain may deliver: positions below the tail it read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Snapshot {
    tail: u64,
}

/// The outcome of one step at `head`.
enum Step {
    /// The event is in this cell, now the consumer's.
    Claimed(usize),
    /// These attempts were evicted.
    Lost { first: u64, count: u64 },
}

/// The receiving half of an overwriting [`ring()`]: `Send`, not `Sync` (one
/// consumer).
///
/// ```
/// use eventsig::Delivery;
/// let (mut tx, mut rx) = eventsig::overwrite::ring::<u64>(4)?;
/// let consumer = std::thread::spawn(move || {
///     let mut next = 0; // every attempt is delivered or reported lost
///     while next < 1000 {
///         match rx.pop() {
///             Some(Delivery::Event(seq)) => { assert_eq!(seq, next); next += 1; }
///             Some(Delivery::Lost { first, count }) => { assert_eq!(first, next); next += count; }
///             None => std::thread::yield_now(),
///         }
///     }
/// });
/// for seq in 0..1000 {
///     tx.push(seq);
/// }
/// consumer.join().unwrap();
/// # Ok::<(), eventsig::BuildError>(())
/// ```
///
/// ```compile_fail
/// fn sync<T: Sync>() {}
/// sync::<eventsig::overwrite::Consumer<u32>>();
/// ```
pub struct Consumer<T> {
    inner: Arc<Inner<T>>,
    layout: Layout,
    cap: usize,
    /// Next position to deliver or report lost.
    head: Cursor,
    published_head: u64,
    /// A tail loaded with Acquire: every position below it is written.
    cached_tail: u64,
    /// The cell this side owns (empty between deliveries).
    spare: usize,
    /// Events delivered.
    taken: u64,
    /// Attempts reported lost.
    reported: u64,
    _not_sync: PhantomData<std::cell::Cell<()>>,
}

impl<T> Consumer<T> {
    /// Loads the tail (Acquire, pairing with the producer's Release store:
    /// rule 4) and remembers it.
    #[inline]
    fn load_tail(&mut self) -> u64 {
        let tail = self.inner.producer.tail.load(Ordering::Acquire);
        self.cached_tail = self.cached_tail.max(tail);
        self.cached_tail
    }

    /// Takes the event at `head` or reports the gap there. The caller has
    /// checked that `head` is below `cached_tail`.
    #[inline]
    fn step(&mut self) -> Step {
        debug_assert!(self.head.pos < self.cached_tail);
        let slot = self.inner.slot(self.head.index);
        // Relaxed: `head` is below a tail loaded with Acquire, so this is
        // the word of `head` or a later one, and the event is visible
        // (rules 1 and 4).
        let word = slot.load(Ordering::Relaxed);
        let ahead = self.layout.turns_ahead(word, self.head.turn);
        let word = if ahead == 0 {
            debug_assert!(self.layout.is_full(word), "only we free a slot");
            let freed = self.layout.word(self.head.turn, false, self.spare);
            // Release: hands our spare back after our reads of it (rule 2);
            // pairs with the producer's Acquire load of the `FREE` word. The
            // event was published by the tail (rule 1). Relaxed on failure:
            // the producer evicted the event; only the new word's turn is
            // used.
            #[cfg(not(eventsig_loom_mutant))]
            let claimed = slot.compare_exchange(word, freed, Ordering::Release, Ordering::Relaxed);
            // The loom mutant: the claim without its compare-and-swap; loom
            // must find the event owned twice (`tests/loom.rs`).
            #[cfg(eventsig_loom_mutant)]
            let claimed = {
                slot.store(freed, Ordering::Release);
                Ok::<u64, u64>(word)
            };
            match claimed {
                Ok(_) => {
                    let cell = self.layout.cell(word);
                    self.spare = cell;
                    self.head.advance(self.cap);
                    self.taken += 1;
                    return Step::Claimed(cell);
                }
                Err(now) => now,
            }
        } else {
            word
        };
        self.skip_evicted(word)
    }

    /// `head`'s event was evicted: the slot's `word` holds a later turn.
    /// Reports every evicted position up to the oldest surviving one.
    #[cold]
    fn skip_evicted(&mut self, word: u64) -> Step {
        let ahead = self.layout.turns_ahead(word, self.head.turn);
        debug_assert!(ahead >= 1 && ahead != u64::MAX >> self.layout.turn_shift());
        let first = self.head.pos;
        // The slot holds position `head + ahead * cap`: every position up to
        // `head + (ahead - 1) * cap` was overwritten a turn later.
        let by_slot = first + (ahead - 1) * self.cap as u64 + 1;
        let by_tail = self.load_tail().saturating_sub(self.cap as u64);
        let next = by_slot.max(by_tail);
        self.head = Cursor::at(next, self.cap);
        let count = next - first;
        self.reported += count;
        Step::Lost { first, count }
    }

    /// Moves the event out of the consumer's cell `cell`.
    #[inline]
    fn read(&self, cell: usize) -> T {
        // SAFETY: our compare-and-swap took the cell from the `FULL` word of
        // a position below a tail loaded with Acquire, so it holds the event
        // the producer published (rule 1), and it is ours alone until we
        // hand it back in a later claim; it is moved out once, here.
        self.inner
            .cell(cell)
            .with_mut(|p| unsafe { (*p).assume_init_read() })
    }

    fn deliver(&mut self, step: Step) -> Delivery<T> {
        match step {
            Step::Claimed(cell) => Delivery::Event(self.read(cell)),
            Step::Lost { first, count } => Delivery::Lost { first, count },
        }
    }

    /// Publishes the consumer's position, for [`Producer::free_slots`].
    pub(crate) fn publish(&mut self) {
        if self.published_head != self.head.pos {
            self.published_head = self.head.pos;
            // Release: our claims below it happen before the producer counts
            // their slots as free (rule 5); pairs with the Acquire load in
            // `Producer::free_slots`.
            self.inner.head.store(self.head.pos, Ordering::Release);
        }
    }

    /// The next delivery, in order: an event or a gap marker.
    ///
    /// ```
    /// # use eventsig::Delivery;
    /// let (mut tx, mut rx) = eventsig::overwrite::ring(1)?;
    /// tx.push(10);
    /// tx.push(11);
    /// assert_eq!(rx.pop(), Some(Delivery::Lost { first: 0, count: 1 }));
    /// assert_eq!(rx.pop(), Some(Delivery::Event(11)));
    /// assert_eq!(rx.pop(), None);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    #[inline]
    pub fn pop(&mut self) -> Option<Delivery<T>> {
        if self.head.pos >= self.cached_tail && self.head.pos >= self.load_tail() {
            return None;
        }
        let step = self.step();
        let delivery = self.deliver(step);
        self.publish();
        Some(delivery)
    }

    /// Reads the tail: a drain delivers the positions below it.
    pub(crate) fn snapshot(&mut self) -> Snapshot {
        Snapshot {
            tail: self.load_tail(),
        }
    }

    /// The next delivery that `snap` covers, without publishing the
    /// consumer's position (see [`Consumer::publish`]).
    #[inline]
    pub(crate) fn next_within(&mut self, snap: &Snapshot) -> Option<Delivery<T>> {
        if self.head.pos >= snap.tail {
            return None;
        }
        let step = self.step();
        Some(self.deliver(step))
    }

    /// A run that `snap` covers: one event (read in place: the cell is the
    /// consumer's until its next claim) or a gap marker.
    #[cfg(not(eventsig_loom))]
    pub(crate) fn next_run_within(&mut self, snap: &Snapshot) -> Option<Run<'_, T>> {
        if self.head.pos >= snap.tail {
            return None;
        }
        match self.step() {
            Step::Lost { first, count } => Some(Run::Lost { first, count }),
            Step::Claimed(cell) => {
                let ptr = self.inner.cell(cell).with_mut(|p| p.cast::<T>());
                // SAFETY: the cell holds the event we just claimed and is
                // ours until our next claim, which needs `&mut self`, which
                // the returned run borrows; `Events` drops the event in
                // place, after which the cell is the empty spare it must be.
                Some(Run::Events(unsafe { Events::from_raw(ptr, 1) }))
            }
        }
    }

    /// An iterator over what is pending now: it ends even if the producer
    /// keeps pushing (a gap that grows meanwhile may be reported up to the
    /// newest eviction).
    ///
    /// ```
    /// # use eventsig::Delivery;
    /// let (mut tx, mut rx) = eventsig::overwrite::ring(2)?;
    /// for i in 0..4 { tx.push(i); }
    /// let got: Vec<_> = rx.drain().collect();
    /// assert_eq!(got, [Delivery::Lost { first: 0, count: 2 }, Delivery::Event(2), Delivery::Event(3)]);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn drain(&mut self) -> Drain<'_, T> {
        Drain::new(self)
    }

    /// Whether an event or a gap is pending (a racy answer: more may arrive
    /// right after a `false`).
    ///
    /// ```
    /// let (mut tx, rx) = eventsig::overwrite::ring(1)?;
    /// assert!(!rx.has_pending());
    /// tx.push(());
    /// assert!(rx.has_pending());
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn has_pending(&self) -> bool {
        // Acquire: as in `load_tail`.
        self.inner.producer.tail.load(Ordering::Acquire) > self.head.pos
    }

    /// Events evicted so far: the producer's published count, or the
    /// losses this consumer has delivered if it got there first.
    ///
    /// ```
    /// let (mut tx, rx) = eventsig::overwrite::ring(1)?;
    /// tx.push(1);
    /// tx.push(2);
    /// assert_eq!(rx.dropped(), 1);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn dropped(&self) -> u64 {
        // Acquire: pairs with the Release store in `Producer::take_evicted`.
        let published = self.inner.producer.dropped.load(Ordering::Acquire);
        published.max(self.reported)
    }

    /// Pushes the producer has published so far.
    ///
    /// ```
    /// let (mut tx, rx) = eventsig::overwrite::ring(1)?;
    /// tx.push(1);
    /// tx.push(2);
    /// assert_eq!(rx.attempts(), 2);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn attempts(&self) -> u64 {
        // Acquire: as in `load_tail`.
        let tail = self.inner.producer.tail.load(Ordering::Acquire);
        tail.max(self.head.pos)
    }

    /// Events delivered so far.
    pub(crate) fn taken(&self) -> u64 {
        self.taken
    }

    /// Sequence number of the next attempt to deliver or report lost.
    fn expected(&self) -> u64 {
        self.head.pos
    }

    /// The ring's capacity.
    ///
    /// ```
    /// let (_tx, rx) = eventsig::overwrite::ring::<u8>(7)?;
    /// assert_eq!(rx.capacity(), 7);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn capacity(&self) -> usize {
        self.cap
    }
}

crate::ring::handle_items! {
    debug_prefix: "overwrite::",
    /// The iterator of [`Consumer::drain`]: what was pending when it started.
    ///
    /// ```
    /// let (mut tx, mut rx) = eventsig::overwrite::ring(2)?;
    /// tx.push('a');
    /// let mut drain = rx.drain();
    /// tx.push('b'); // after the snapshot: for the next drain
    /// assert_eq!(drain.next().and_then(|d| d.event()), Some('a'));
    /// assert_eq!(drain.next(), None);
    /// drop(drain);
    /// assert_eq!(rx.drain().count(), 1);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub struct Drain;
    /// The next run of this drain: here always one event (in place) or a
    /// gap marker, since consecutive events sit in scattered cells; it
    /// mixes freely with [`Iterator::next`].
    ///
    /// ```
    /// use eventsig::ring::Run;
    /// let (mut tx, mut rx) = eventsig::overwrite::ring(2)?;
    /// for i in 0..3u32 { tx.push(i); }
    /// let mut drain = rx.drain();
    /// assert!(matches!(drain.next_run(), Some(Run::Lost { first: 0, count: 1 })));
    /// match drain.next_run() {
    ///     Some(Run::Events(events)) => assert_eq!(&*events, &[1]),
    ///     other => panic!("{other:?}"),
    /// }
    /// assert_eq!(drain.next().and_then(|d| d.event()), Some(2));
    /// assert!(drain.next_run().is_none());
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn next_run;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_round_trips_and_counts_turns() {
        for cap in [1usize, 2, 3, 6, 7, 1000, MAX_CAPACITY as usize] {
            let l = Layout::new(cap);
            assert!(l.cell_bits <= 32, "cap {cap}");
            for cell in [0, cap / 2, cap + 1] {
                for full in [false, true] {
                    let w = l.word(5, full, cell);
                    assert_eq!(l.cell(w), cell, "cap {cap}");
                    assert_eq!(l.is_full(w), full, "cap {cap}");
                    assert_eq!(l.turns_ahead(w, 5), 0);
                    assert_eq!(l.turns_ahead(w, 3), 2);
                    assert_eq!(l.turns_ahead(w, 6), u64::MAX >> l.turn_shift());
                }
            }
        }
    }

    #[test]
    fn cursor_matches_division() {
        for cap in [1usize, 2, 3, 5] {
            let mut c = Cursor::at(0, cap);
            for pos in 0..40u64 {
                let d = Cursor::at(pos, cap);
                assert_eq!((c.pos, c.index, c.turn), (d.pos, d.index, d.turn));
                c.advance(cap);
            }
        }
    }

    #[test]
    fn capacity_limits() {
        assert!(matches!(ring::<u8>(0), Err(BuildError::ZeroCapacity)));
        assert!(matches!(
            ring::<u8>(MAX_CAPACITY as usize + 1),
            Err(BuildError::CapacityTooLarge { .. })
        ));
    }

    #[test]
    fn unread_and_evicted_values_are_dropped_once() {
        let marker = Arc::new(());
        let (mut tx, mut rx) = ring(3).unwrap();
        for _ in 0..7 {
            drop(tx.push(Arc::clone(&marker)));
        }
        drop(rx.pop()); // the gap
        drop(rx.pop()); // one event
        assert_eq!(Arc::strong_count(&marker), 3);
        drop((tx, rx));
        assert_eq!(Arc::strong_count(&marker), 1);
    }
}
