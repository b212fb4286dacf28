//! The events layer: a fixed-capacity lock-free SPSC ring that also carries
//! its own loss markers.
//!
//! Each side owns one index and caches the other's ([`CachePadded`] keeps them
//! on separate cache lines); an index is re-read from the other side only when
//! the ring looks full (producer) or empty (consumer). Indices run over
//! `0..2 * capacity`, so full and empty differ without a spare slot and the
//! capacity is exactly what was asked. Slots hold bare `T`s, so a run of
//! events between two gaps is a plain slice ([`Drain::next_run`]).
//!
//! # Sequence numbers and gaps
//!
//! Every push attempt gets the next sequence number (0, 1, 2, ...), whether it
//! is accepted or dropped. The numbers are not stored: the consumer counts
//! them. An accepted push that follows drops writes a small *gap record*
//! first: its slot position and the producer's total drop count so far. The
//! consumer, on reaching that position, reports [`Delivery::Lost`] for the
//! drops it has not reported yet, exactly there, before that event (S7).
//! Drops after the last stored event are found through the producer's
//! published drop count: once the consumer has taken every event it can see,
//! every drop counted there that it has not reported came after them. So the
//! loss is reported even while the ring stays full and nothing is sent after
//! it. The accepted path pays nothing for this: one slot write and one index
//! store, as in a plain SPSC ring.
//!
//! Gap records live in their own array of `capacity` entries, indexed by a
//! record count the producer publishes (`gaps`). At most `capacity` records
//! are ever unread, one per unread event at most, so record `k` reuses the
//! cell of record `k - capacity` only after the consumer freed the slot of
//! that record's event, which it does after reading the record.
//!
//! # Memory ordering
//!
//! The producer writes a gap record, then `gaps`, then the slot, then `tail`
//! (Release stores), and publishes a drop with a Release store of `dropped`
//! after every earlier `tail` store. The consumer loads `dropped`, then
//! `tail`, then `gaps` (Acquire loads): a drop count it sees comes with every
//! event accepted before those drops, and a tail it sees comes with the gap
//! records of the events below it.

use std::fmt;
use std::marker::PhantomData;
use std::mem::MaybeUninit;

use crossbeam_utils::CachePadded;

use crate::sync::{Arc, AtomicU64, AtomicUsize, Ordering, UnsafeCell};

/// What a consumer receives: an event, or the place where events were lost.
///
/// ```
/// use eventsig::{ring, Delivery};
/// let (mut tx, mut rx) = ring::ring::<&str>(1)?;
/// assert!(tx.push("a").is_ok());
/// assert_eq!(tx.push("b"), Err("b"));          // attempt 1 dropped: the ring is full
/// assert_eq!(rx.pop(), Some(Delivery::Event("a")));
/// assert_eq!(rx.pop(), Some(Delivery::Lost { first: 1, count: 1 }));
/// assert_eq!(rx.pop(), None);
/// # Ok::<(), eventsig::BuildError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Delivery<T> {
    /// One event, in send order.
    Event(T),
    /// `count` consecutive send attempts, starting with attempt number `first`,
    /// were dropped because the ring was full. It stands exactly where those
    /// events would have been.
    Lost {
        /// Sequence number of the first dropped attempt.
        first: u64,
        /// How many consecutive attempts were dropped.
        count: u64,
    },
}

impl<T> Delivery<T> {
    /// The event, if this is one.
    ///
    /// ```
    /// # use eventsig::Delivery;
    /// assert_eq!(Delivery::Event(5).event(), Some(5));
    /// assert_eq!(Delivery::<u8>::Lost { first: 0, count: 1 }.event(), None);
    /// ```
    pub fn event(self) -> Option<T> {
        match self {
            Delivery::Event(v) => Some(v),
            Delivery::Lost { .. } => None,
        }
    }
}

/// The error of building a ring or a channel.
///
/// ```
/// # use eventsig::{ring, BuildError};
/// assert!(matches!(ring::ring::<u8>(0), Err(BuildError::ZeroCapacity)));
/// assert!(matches!(ring::ring::<u8>(usize::MAX), Err(BuildError::CapacityTooLarge { .. })));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum BuildError {
    /// A capacity of 0 was asked: such a ring could hold nothing.
    ZeroCapacity,
    /// The ring's memory could not be had: the size overflows, or the
    /// allocator refused it.
    CapacityTooLarge {
        /// The capacity asked for.
        requested: usize,
    },
    /// A system call failed while building, for example `eventfd(2)` with
    /// `EMFILE` when the process is out of file descriptors.
    Io(std::io::Error),
    /// The fd given to [`Builder::eventfd`](crate::Builder::eventfd) cannot
    /// be the doorbell: not an eventfd (handed back inside), or it could not
    /// be configured.
    Adopt(crate::eventfd::AdoptError),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::ZeroCapacity => f.write_str("capacity must be at least 1"),
            BuildError::CapacityTooLarge { requested } => {
                write!(f, "capacity {requested} is too large to allocate")
            }
            BuildError::Io(e) => write!(f, "cannot build the channel: {e}"),
            BuildError::Adopt(e) => write!(f, "cannot build the channel: {e}"),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BuildError::Io(e) => Some(e),
            BuildError::Adopt(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for BuildError {
    fn from(e: std::io::Error) -> BuildError {
        BuildError::Io(e)
    }
}

type Slot<T> = UnsafeCell<MaybeUninit<T>>;

/// Where drops stand: the event at `pos` follows them, and `dropped` was the
/// producer's total drop count when it was pushed.
#[derive(Debug, Clone, Copy, Default)]
struct Gap {
    pos: usize,
    dropped: u64,
}

/// Words written by the producer only.
struct ProducerWords {
    /// Next slot position the producer writes, in `0..2 * capacity`.
    tail: AtomicUsize,
    /// Number of dropped attempts so far.
    dropped: AtomicU64,
    /// Number of gap records written so far.
    gaps: AtomicU64,
}

struct Inner<T> {
    /// Next slot position the consumer reads, in `0..2 * capacity`; written by
    /// the consumer only.
    head: CachePadded<AtomicUsize>,
    producer: CachePadded<ProducerWords>,
    slots: Box<[Slot<T>]>,
    /// Gap records, a ring indexed by record count (see the module docs).
    gaps: Box<[UnsafeCell<Gap>]>,
}

// SAFETY: the ring moves `T` values from the producer's thread to the
// consumer's, so `T: Send` is required and sufficient; a slot (and a gap
// record) is accessed by one side at a time, as the head/tail protocol
// decides.
unsafe impl<T: Send> Sync for Inner<T> {}
// SAFETY: as above: only `T: Send` values cross threads.
unsafe impl<T: Send> Send for Inner<T> {}

/// Position arithmetic over `0..2 * cap`, copied into each handle so the hot
/// paths do not reach through the shared allocation for the capacity.
#[derive(Debug, Clone, Copy)]
struct Geometry {
    cap: usize,
}

impl Geometry {
    /// Number of stored events between `head` and `tail`.
    #[inline]
    fn distance(self, head: usize, tail: usize) -> usize {
        if tail >= head {
            tail - head
        } else {
            tail + 2 * self.cap - head
        }
    }

    #[inline]
    fn advance(self, pos: usize) -> usize {
        if pos + 1 == 2 * self.cap {
            0
        } else {
            pos + 1
        }
    }

    #[inline]
    fn advance_by(self, pos: usize, n: usize) -> usize {
        // `pos < 2 * cap` and `n <= cap`: no overflow.
        let next = pos + n;
        if next >= 2 * self.cap {
            next - 2 * self.cap
        } else {
            next
        }
    }

    /// The slot index of a position.
    #[inline]
    fn index(self, pos: usize) -> usize {
        if pos < self.cap {
            pos
        } else {
            pos - self.cap
        }
    }
}

impl<T> Inner<T> {
    fn geometry(&self) -> Geometry {
        Geometry {
            cap: self.slots.len(),
        }
    }

    /// The slot at slot index `index`, which the caller computed with
    /// [`Geometry::index`] (so it is below the capacity).
    #[inline]
    fn slot(&self, index: usize) -> &Slot<T> {
        debug_assert!(index < self.slots.len());
        // SAFETY: `Geometry::index` maps every position in `0..2 * cap` below
        // `cap`, the length of `slots`.
        unsafe { self.slots.get_unchecked(index) }
    }

    fn gap(&self, record: u64) -> &UnsafeCell<Gap> {
        // The remainder is below the capacity, a `usize`.
        &self.gaps[(record % self.gaps.len() as u64) as usize]
    }
}

impl<T> Drop for Inner<T> {
    fn drop(&mut self) {
        // Both handles are gone (the last `Arc` drop synchronises with them),
        // so plain loads see the final indices.
        let geo = self.geometry();
        let mut pos = self.head.load(Ordering::Relaxed);
        let tail = self.producer.tail.load(Ordering::Relaxed);
        while pos != tail {
            // SAFETY: slots in `head..tail` hold initialised values that the
            // consumer never took; nobody else can reach them any more.
            self.slot(geo.index(pos))
                .with_mut(|p| unsafe { (*p).assume_init_drop() });
            pos = geo.advance(pos);
        }
    }
}

/// Checks the capacity asked of a ring: [`BuildError::ZeroCapacity`] for 0,
/// [`BuildError::CapacityTooLarge`] unless `fits(capacity)`.
pub(crate) fn check_capacity(
    capacity: usize,
    fits: impl FnOnce(usize) -> bool,
) -> Result<(), BuildError> {
    if capacity == 0 {
        return Err(BuildError::ZeroCapacity);
    }
    if !fits(capacity) {
        return Err(BuildError::CapacityTooLarge {
            requested: capacity,
        });
    }
    Ok(())
}

/// `len` values `make(0)`, `make(1)`, ... in a slice allocated without
/// aborting: a refused allocation is [`BuildError::CapacityTooLarge`] for the
/// ring's `capacity`.
pub(crate) fn try_slice<C>(
    capacity: usize,
    len: usize,
    make: impl FnMut(usize) -> C,
) -> Result<Box<[C]>, BuildError> {
    let mut v = Vec::new();
    if v.try_reserve_exact(len).is_err() {
        return Err(BuildError::CapacityTooLarge {
            requested: capacity,
        });
    }
    v.extend((0..len).map(make));
    Ok(v.into_boxed_slice())
}

/// Builds a ring of exactly `capacity` slots and returns its two halves.
///
/// # Errors
///
/// [`BuildError::ZeroCapacity`] for 0, [`BuildError::CapacityTooLarge`] when
/// the slots cannot be allocated (checked, never a panic or an abort).
///
/// ```
/// let (mut tx, mut rx) = eventsig::ring::ring::<u32>(3)?;
/// assert_eq!(tx.capacity(), 3);
/// for i in 0..3 { tx.push(i).unwrap(); }
/// assert_eq!(tx.free_slots(), 0);
/// assert_eq!(rx.pop().and_then(|d| d.event()), Some(0));
/// # Ok::<(), eventsig::BuildError>(())
/// ```
pub fn ring<T>(capacity: usize) -> Result<(Producer<T>, Consumer<T>), BuildError> {
    // Positions run over 0..2 * capacity.
    check_capacity(capacity, |c| c <= usize::MAX / 2)?;
    let slots = try_slice(capacity, capacity, |_| {
        UnsafeCell::new(MaybeUninit::uninit())
    })?;
    let gaps = try_slice(capacity, capacity, |_| UnsafeCell::new(Gap::default()))?;
    let inner = Arc::new(Inner {
        head: CachePadded::new(AtomicUsize::new(0)),
        producer: CachePadded::new(ProducerWords {
            tail: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
            gaps: AtomicU64::new(0),
        }),
        slots,
        gaps,
    });
    let geo = inner.geometry();
    let producer = Producer {
        geo,
        inner: Arc::clone(&inner),
        tail: 0,
        cached_head: 0,
        next_seq: 0,
        dropped: 0,
        recorded: 0,
        gaps: 0,
        _not_sync: PhantomData,
    };
    let consumer = Consumer {
        geo,
        inner,
        head: 0,
        published_head: 0,
        cached_tail: 0,
        expected: 0,
        reported: 0,
        next_gap: NO_GAP,
        next_gap_dropped: 0,
        gaps_read: 0,
        gaps_seen: 0,
        _not_sync: PhantomData,
    };
    Ok((producer, consumer))
}

/// The sending half of a [`ring()`]: `Send`, not `Sync` (one producer).
///
/// ```
/// let (mut tx, rx) = eventsig::ring::ring::<String>(4)?;
/// std::thread::spawn(move || tx.push("from another thread".into()).unwrap())
///     .join()
///     .unwrap();
/// assert!(rx.has_pending());
/// # Ok::<(), eventsig::BuildError>(())
/// ```
///
/// ```compile_fail
/// fn sync<T: Sync>() {}
/// sync::<eventsig::ring::Producer<u32>>();
/// ```
pub struct Producer<T> {
    geo: Geometry,
    inner: Arc<Inner<T>>,
    tail: usize,
    cached_head: usize,
    next_seq: u64,
    dropped: u64,
    /// The drop count the last gap record carries.
    recorded: u64,
    /// Gap records written.
    gaps: u64,
    _not_sync: PhantomData<std::cell::Cell<()>>,
}

impl<T> Producer<T> {
    /// Appends `value`, or hands it back when the ring is full. Either way the
    /// attempt uses up one sequence number; a refused one is counted as
    /// dropped and becomes part of a [`Delivery::Lost`] gap.
    ///
    /// Never blocks, never allocates.
    ///
    /// # Errors
    ///
    /// `Err(value)` when the ring is full.
    ///
    /// ```
    /// let (mut tx, _rx) = eventsig::ring::ring(1)?;
    /// assert_eq!(tx.push('a'), Ok(()));
    /// assert_eq!(tx.push('b'), Err('b'));
    /// assert_eq!(tx.dropped(), 1);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    #[inline]
    pub fn push(&mut self, value: T) -> Result<(), T> {
        self.next_seq += 1;
        if self.is_full() {
            self.drop_one();
            return Err(value);
        }
        if self.dropped != self.recorded {
            self.record_gap();
        }
        let tail = self.tail;
        // SAFETY: `is_full` returned false, so the slot at `tail` is outside
        // the consumer's `head..tail` window: the consumer does not read it
        // until the Release store of `tail` below publishes it, and it has
        // finished with the previous value there (Acquire load of `head` in
        // `is_full`). The slot holds no live value, so nothing is leaked.
        self.inner
            .slot(self.geo.index(tail))
            .with_mut(|p| unsafe { (*p).write(value) });
        self.tail = self.geo.advance(tail);
        // Release: publishes the value written above (and any gap record
        // before it); pairs with the Acquire loads of `tail` in
        // `Consumer::snapshot` and `Consumer::has_pending`.
        self.inner.producer.tail.store(self.tail, Ordering::Release);
        Ok(())
    }

    /// Counts a refused attempt and publishes the drop count.
    #[cold]
    fn drop_one(&mut self) {
        self.dropped += 1;
        // Release: a consumer that sees this count (Acquire) also sees every
        // event accepted before the drop, so it can place the gap after them.
        self.inner
            .producer
            .dropped
            .store(self.dropped, Ordering::Release);
    }

    /// The next accepted event follows drops: record where it stands.
    #[cold]
    fn record_gap(&mut self) {
        let gap = Gap {
            pos: self.tail,
            dropped: self.dropped,
        };
        // SAFETY: record `gaps` reuses the cell of record `gaps - capacity`,
        // whose event stands at least `capacity` positions before `tail`; the
        // slot at `tail` is free (checked by the caller), so the consumer has
        // published a head past that event, which it does only after reading
        // its record (Acquire load of `head` in `is_full`/`free_slots`). The
        // consumer reads this record only after the Release store below.
        self.inner
            .gap(self.gaps)
            .with_mut(|p| unsafe { p.write(gap) });
        self.gaps += 1;
        self.recorded = self.dropped;
        // Release: publishes the record; the `tail` store that follows (also
        // Release) carries it to a consumer that sees that event.
        self.inner.producer.gaps.store(self.gaps, Ordering::Release);
    }

    /// Pushes items from `items` while there is room, then publishes them
    /// with one index store. Returns how many were pushed; stops at the
    /// first item that does not fit, leaving it in the iterator (it is not
    /// an attempt: no sequence number, no drop).
    ///
    /// ```
    /// let (mut tx, mut rx) = eventsig::ring::ring(2)?;
    /// let mut items = ["a", "b", "c"].into_iter();
    /// assert_eq!(tx.push_iter(&mut items), 2);
    /// assert_eq!(items.next(), Some("c"));
    /// assert_eq!(tx.dropped(), 0);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn push_iter<I: Iterator<Item = T>>(&mut self, items: &mut I) -> usize {
        // A fresh look at the consumer's index (one load per batch): a stale
        // cached one would cut the batch short.
        let room = self.free_slots();
        if room > 0 && self.dropped != self.recorded {
            // Recorded even if `items` turns out empty: the next accepted
            // push stands at this same position (no drop can come first while
            // there is room), so the record holds for it.
            self.record_gap();
        }
        let mut pushed = 0;
        while pushed < room {
            // The free slots from `tail` up to the end of the slot array (or
            // to the end of the room): contiguous, filled by a plain loop.
            let start = self.geo.index(self.tail);
            let end = (start + room - pushed).min(self.geo.cap);
            let mut filled = 0;
            for slot in &self.inner.slots[start..end] {
                let Some(value) = items.next() else { break };
                // SAFETY: as in `push`: the slot is among the `room` free
                // slots counted from an Acquire load of `head`, so it is
                // outside the consumer's window; the Release store of `tail`
                // below publishes it.
                slot.with_mut(|p| unsafe { (*p).write(value) });
                filled += 1;
            }
            pushed += filled;
            self.tail = self.geo.advance_by(self.tail, filled);
            if start + filled < end {
                break; // the iterator ran dry
            }
        }
        if pushed > 0 {
            self.next_seq += pushed as u64;
            // Release: as in `push`.
            self.inner.producer.tail.store(self.tail, Ordering::Release);
        }
        pushed
    }

    /// Whether no slot is free, re-reading the consumer's index only when the
    /// cached one says so.
    #[inline]
    fn is_full(&mut self) -> bool {
        if self.geo.distance(self.cached_head, self.tail) < self.geo.cap {
            return false;
        }
        // Acquire: pairs with the consumer's Release store of `head`, so the
        // consumer's reads of the slots (and gap records) it freed happen
        // before we reuse them.
        self.cached_head = self.inner.head.load(Ordering::Acquire);
        self.geo.distance(self.cached_head, self.tail) == self.geo.cap
    }

    /// Free slots now; `> 0` means the next push is accepted (only this
    /// producer fills the ring, and the consumer only frees slots).
    ///
    /// ```
    /// let (mut tx, _rx) = eventsig::ring::ring::<u8>(4)?;
    /// tx.push(1).unwrap();
    /// assert_eq!(tx.free_slots(), 3);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn free_slots(&mut self) -> usize {
        // Acquire: as in `is_full`.
        self.cached_head = self.inner.head.load(Ordering::Acquire);
        self.geo.cap - self.geo.distance(self.cached_head, self.tail)
    }

    /// The ring's capacity, exactly as asked.
    ///
    /// ```
    /// let (tx, _rx) = eventsig::ring::ring::<u8>(100)?;
    /// assert_eq!(tx.capacity(), 100);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn capacity(&self) -> usize {
        self.geo.cap
    }

    /// Push attempts so far: the sequence number the next push will get.
    ///
    /// ```
    /// let (mut tx, _rx) = eventsig::ring::ring::<u8>(1)?;
    /// let _ = tx.push(1);
    /// let _ = tx.push(2);
    /// assert_eq!(tx.attempts(), 2);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn attempts(&self) -> u64 {
        self.next_seq
    }

    /// Push attempts dropped so far because the ring was full.
    ///
    /// ```
    /// let (mut tx, _rx) = eventsig::ring::ring::<u8>(1)?;
    /// let _ = tx.push(1);
    /// let _ = tx.push(2);
    /// assert_eq!(tx.dropped(), 1);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

/// What a [`Consumer`] may deliver without looking again: the drop count and
/// tail it read together (the drop count first, see the module docs).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Snapshot {
    dropped: u64,
    tail: usize,
}

/// `Consumer::next_gap` when no gap record is known: no position equals it.
const NO_GAP: usize = usize::MAX;

/// The receiving half of a [`ring()`]: `Send`, not `Sync` (one consumer).
///
/// ```
/// # use eventsig::Delivery;
/// let (mut tx, mut rx) = eventsig::ring::ring::<u8>(2)?;
/// tx.push(1).unwrap();
/// let t = std::thread::spawn(move || rx.pop());
/// assert_eq!(t.join().unwrap(), Some(Delivery::Event(1)));
/// # Ok::<(), eventsig::BuildError>(())
/// ```
///
/// ```compile_fail
/// fn sync<T: Sync>() {}
/// sync::<eventsig::ring::Consumer<u32>>();
/// ```
pub struct Consumer<T> {
    geo: Geometry,
    inner: Arc<Inner<T>>,
    /// Next position to read (may be ahead of the published index while a
    /// batch is being drained).
    head: usize,
    published_head: usize,
    cached_tail: usize,
    /// Sequence number of the next attempt not yet delivered or reported lost.
    expected: u64,
    /// Drops reported in `Lost` markers so far.
    reported: u64,
    /// Position of the next gap record's event, or `NO_GAP`.
    next_gap: usize,
    /// The drop count of that record.
    next_gap_dropped: u64,
    /// Gap records read so far.
    gaps_read: u64,
    /// Gap records the producer had published at the last snapshot.
    gaps_seen: u64,
    _not_sync: PhantomData<std::cell::Cell<()>>,
}

impl<T> Consumer<T> {
    /// Reads the producer's words: the drop count, then tail, then the gap
    /// record count (Acquire, pairing with the producer's Release stores).
    pub(crate) fn snapshot(&mut self) -> Snapshot {
        let words = &self.inner.producer;
        let dropped = words.dropped.load(Ordering::Acquire);
        self.cached_tail = words.tail.load(Ordering::Acquire);
        if self.next_gap == NO_GAP {
            self.gaps_seen = words.gaps.load(Ordering::Acquire);
            self.load_next_gap();
        }
        Snapshot {
            dropped,
            tail: self.cached_tail,
        }
    }

    /// Makes the next published, unread gap record the one to watch for.
    fn load_next_gap(&mut self) {
        if self.gaps_read == self.gaps_seen {
            self.next_gap = NO_GAP;
            return;
        }
        // SAFETY: the record was published (Acquire load of `gaps` in
        // `snapshot`), and the producer rewrites its cell only after we
        // published a head past its event, which we do only after this read
        // (see the module docs).
        let gap = self
            .inner
            .gap(self.gaps_read)
            .with_mut(|p| unsafe { p.read() });
        self.gaps_read += 1;
        self.next_gap = gap.pos;
        self.next_gap_dropped = gap.dropped;
    }

    /// The `Lost` marker for drops counted up to `dropped` and not reported
    /// yet, if any.
    fn lost_up_to(&mut self, dropped: u64) -> Option<Delivery<T>> {
        if dropped <= self.reported {
            return None;
        }
        let first = self.expected;
        let count = dropped - self.reported;
        self.reported = dropped;
        self.expected += count;
        Some(Delivery::Lost { first, count })
    }

    /// At the position of a gap record: the drops it stands for, if not
    /// reported yet (a trailing report may have covered them).
    #[cold]
    fn at_gap(&mut self) -> Option<Delivery<T>> {
        let dropped = self.next_gap_dropped;
        if self.gaps_read == self.gaps_seen {
            // Records past the ones seen belong to events past this
            // snapshot's tail, or not yet published: look again.
            self.gaps_seen = self.inner.producer.gaps.load(Ordering::Acquire);
        }
        self.load_next_gap();
        self.lost_up_to(dropped)
    }

    /// Moves the value at `head` out and advances.
    fn take(&mut self) -> T {
        let slot = self.inner.slot(self.geo.index(self.head));
        // SAFETY: `head` is below a tail loaded with Acquire, so the slot
        // holds a value the producer published and will not touch until we
        // publish a head past it; the value is moved out exactly once, since
        // `head` moves past the slot right after.
        let value = slot.with_mut(|p| unsafe { (*p).assume_init_read() });
        self.head = self.geo.advance(self.head);
        self.expected += 1;
        value
    }

    /// The next delivery that `snap` covers, without publishing the consumer
    /// index (see [`Consumer::publish`]).
    #[inline]
    pub(crate) fn next_within(&mut self, snap: &Snapshot) -> Option<Delivery<T>> {
        if self.head == snap.tail {
            // Every event this snapshot covers is taken: drops counted in it
            // and not reported yet came after them.
            return self.lost_up_to(snap.dropped);
        }
        if self.head == self.next_gap {
            if let Some(lost) = self.at_gap() {
                return Some(lost);
            }
        }
        Some(Delivery::Event(self.take()))
    }

    /// Publishes the consumer index, freeing the slots read since the last
    /// publication to the producer.
    #[inline]
    pub(crate) fn publish(&mut self) {
        if self.published_head != self.head {
            self.published_head = self.head;
            // Release: our reads of the freed slots (and their gap records)
            // happen before the producer's reuse of them; pairs with the
            // Acquire load of `head` in `Producer::is_full` and
            // `Producer::free_slots`.
            self.inner.head.store(self.head, Ordering::Release);
        }
    }

    /// The next delivery, in order: an event or a gap marker.
    ///
    /// ```
    /// # use eventsig::Delivery;
    /// let (mut tx, mut rx) = eventsig::ring::ring(2)?;
    /// tx.push(10).unwrap();
    /// assert_eq!(rx.pop(), Some(Delivery::Event(10)));
    /// assert_eq!(rx.pop(), None);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    #[inline]
    pub fn pop(&mut self) -> Option<Delivery<T>> {
        if self.head == self.cached_tail {
            let words = &self.inner.producer;
            // Acquire (all three): as in `snapshot`.
            self.cached_tail = words.tail.load(Ordering::Acquire);
            if self.head == self.cached_tail {
                // Empty, unless drops are to be reported: the full snapshot
                // (drop count before tail) places them.
                if words.dropped.load(Ordering::Acquire) == self.reported {
                    return None;
                }
                return self.pop_slow();
            }
            // New events: their gap records are published before them.
            if self.next_gap == NO_GAP && words.gaps.load(Ordering::Acquire) != self.gaps_read {
                return self.pop_slow();
            }
        }
        if self.head == self.next_gap {
            return self.pop_slow();
        }
        // An event below the tail, with no gap record before it.
        let value = self.take();
        self.publish();
        Some(Delivery::Event(value))
    }

    /// `pop` at the tail or at a gap record: the full snapshot.
    #[cold]
    fn pop_slow(&mut self) -> Option<Delivery<T>> {
        let snap = self.snapshot();
        let delivery = self.next_within(&snap);
        self.publish();
        delivery
    }

    /// A run of consecutive events that `snap` covers, as one slice, or the
    /// gap marker that comes first; advances past it without publishing.
    #[cfg(not(eventsig_loom))]
    pub(crate) fn next_run_within(&mut self, snap: &Snapshot) -> Option<Run<'_, T>> {
        if self.head == snap.tail {
            return match self.lost_up_to(snap.dropped)? {
                Delivery::Lost { first, count } => Some(Run::Lost { first, count }),
                Delivery::Event(_) => unreachable!("lost_up_to only makes gap markers"),
            };
        }
        if self.head == self.next_gap {
            if let Some(Delivery::Lost { first, count }) = self.at_gap() {
                return Some(Run::Lost { first, count });
            }
        }
        let start = self.geo.index(self.head);
        let mut len = self
            .geo
            .distance(self.head, snap.tail)
            .min(self.geo.cap - start);
        if self.next_gap != NO_GAP {
            // The next record's event stands ahead of `head` (records are
            // consumed in position order), within the window.
            len = len.min(self.geo.distance(self.head, self.next_gap));
        }
        // A pointer with the provenance of the whole slot array, so that the
        // run may span several slots. `UnsafeCell` and `MaybeUninit` are
        // `repr(transparent)`: the slots are laid out as a `[T]`.
        let base: *mut T = self.inner.slots.as_ptr().cast::<T>().cast_mut();
        // SAFETY: `start + len <= capacity`, inside the slot array.
        let ptr = unsafe { base.add(start) };
        self.head = self.geo.advance_by(self.head, len);
        self.expected += len as u64;
        Some(Run::Events(Events {
            ptr,
            len,
            _slots: PhantomData,
        }))
    }

    /// An iterator over what is pending now: it ends even if the producer
    /// keeps pushing, and publishes the consumer index once, when it is
    /// dropped.
    ///
    /// ```
    /// # use eventsig::Delivery;
    /// let (mut tx, mut rx) = eventsig::ring::ring(2)?;
    /// for i in 0..4 { let _ = tx.push(i); }
    /// let got: Vec<_> = rx.drain().collect();
    /// assert_eq!(got, [Delivery::Event(0), Delivery::Event(1), Delivery::Lost { first: 2, count: 2 }]);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn drain(&mut self) -> Drain<'_, T> {
        Drain::new(self)
    }

    /// Whether an event or a gap is pending (a racy answer: more may arrive
    /// right after a `false`).
    ///
    /// ```
    /// let (mut tx, rx) = eventsig::ring::ring(1)?;
    /// assert!(!rx.has_pending());
    /// tx.push(()).unwrap();
    /// assert!(rx.has_pending());
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn has_pending(&self) -> bool {
        let words = &self.inner.producer;
        // Acquire (both): as in `snapshot`; only a yes/no is needed here.
        words.dropped.load(Ordering::Acquire) > self.reported
            || words.tail.load(Ordering::Acquire) != self.head
    }

    /// Dropped attempts the producer has published so far.
    ///
    /// ```
    /// let (mut tx, rx) = eventsig::ring::ring(1)?;
    /// let _ = tx.push(1);
    /// let _ = tx.push(2);
    /// assert_eq!(rx.dropped(), 1);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn dropped(&self) -> u64 {
        // Acquire: pairs with the Release store in `Producer::push`.
        self.inner.producer.dropped.load(Ordering::Acquire)
    }

    /// Push attempts the producer has published so far: events taken, events
    /// stored and not taken yet, and drops.
    ///
    /// ```
    /// let (mut tx, rx) = eventsig::ring::ring(1)?;
    /// let _ = tx.push(1);
    /// let _ = tx.push(2);
    /// assert_eq!(rx.attempts(), 2);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn attempts(&self) -> u64 {
        let words = &self.inner.producer;
        // Acquire (both): as in `snapshot`.
        let dropped = words.dropped.load(Ordering::Acquire);
        let tail = words.tail.load(Ordering::Acquire);
        self.taken() + self.geo.distance(self.head, tail) as u64 + dropped
    }

    /// Events taken so far (every attempt up to the next one expected is
    /// either taken or reported lost).
    pub(crate) fn taken(&self) -> u64 {
        self.expected - self.reported
    }

    /// Sequence number of the next attempt to deliver or report lost.
    fn expected(&self) -> u64 {
        self.expected
    }

    /// The ring's capacity.
    ///
    /// ```
    /// let (_tx, rx) = eventsig::ring::ring::<u8>(7)?;
    /// assert_eq!(rx.capacity(), 7);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn capacity(&self) -> usize {
        self.geo.cap
    }
}

impl<T> Drop for Consumer<T> {
    fn drop(&mut self) {
        // Values read by a `Drain` that was leaked (`mem::forget`) before it
        // could publish are already moved out: publish our position so that
        // `Inner::drop` does not drop them a second time.
        self.publish();
    }
}

/// The parts of a ring's handles that are the same code for both rings
/// ([`crate::ring`] and [`crate::overwrite`]), written once: the `Drain`
/// iterator of `Consumer::drain` and the handles' `Debug`. Invoked in each
/// ring's module, where `Producer`, `Consumer` and `Snapshot` are that
/// ring's; its consumer provides `snapshot`, `next_within`,
/// `next_run_within`, `publish`, `capacity` and `expected`, its producer
/// `capacity`, `attempts` and `dropped`. A macro rather than a generic type,
/// so that each ring keeps its own public `Drain<'a, T>` with its own docs,
/// and the code that inlines into the hot paths stays what it was.
macro_rules! handle_items {
    (
        debug_prefix: $prefix:literal,
        $(#[$drain_attr:meta])*
        pub struct Drain;
        $(#[$next_run_attr:meta])*
        pub fn next_run;
    ) => {
        $(#[$drain_attr])*
        pub struct Drain<'a, T> {
            consumer: &'a mut Consumer<T>,
            snap: Snapshot,
        }

        impl<'a, T> Drain<'a, T> {
            /// A drain of what `consumer` has pending now.
            fn new(consumer: &'a mut Consumer<T>) -> Drain<'a, T> {
                let snap = consumer.snapshot();
                Drain { consumer, snap }
            }

            $(#[$next_run_attr])*
            #[cfg(not(eventsig_loom))]
            pub fn next_run(&mut self) -> Option<$crate::ring::Run<'_, T>> {
                self.consumer.next_run_within(&self.snap)
            }
        }

        impl<T> Iterator for Drain<'_, T> {
            type Item = $crate::ring::Delivery<T>;

            #[inline]
            fn next(&mut self) -> Option<$crate::ring::Delivery<T>> {
                self.consumer.next_within(&self.snap)
            }
        }

        impl<T> Drop for Drain<'_, T> {
            fn drop(&mut self) {
                self.consumer.publish();
            }
        }

        impl<T> ::std::fmt::Debug for Drain<'_, T> {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct(concat!($prefix, "Drain")).finish_non_exhaustive()
            }
        }

        impl<T> ::std::fmt::Debug for Producer<T> {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct(concat!($prefix, "Producer"))
                    .field("capacity", &self.capacity())
                    .field("attempts", &self.attempts())
                    .field("dropped", &self.dropped())
                    .finish_non_exhaustive()
            }
        }

        impl<T> ::std::fmt::Debug for Consumer<T> {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct(concat!($prefix, "Consumer"))
                    .field("capacity", &self.capacity())
                    .field("expected", &self.expected())
                    .finish_non_exhaustive()
            }
        }
    };
}
pub(crate) use handle_items;

handle_items! {
    debug_prefix: "",
    /// The iterator of [`Consumer::drain`]: what was pending when it started, in
    /// order; it publishes the consumer index once, when dropped.
    ///
    /// ```
    /// # use eventsig::Delivery;
    /// let (mut tx, mut rx) = eventsig::ring::ring(4)?;
    /// tx.push('a').unwrap();
    /// let mut drain = rx.drain();
    /// tx.push('b').unwrap(); // after the drain's snapshot: the next drain's
    /// assert_eq!(drain.next(), Some(Delivery::Event('a')));
    /// assert_eq!(drain.next(), None);
    /// drop(drain);
    /// assert_eq!(rx.drain().next(), Some(Delivery::Event('b')));
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub struct Drain;
    /// The next run of this drain: every event up to the next gap (or the
    /// end of the slot array) as one slice, or the gap marker. Faster than
    /// item by item for small `T`; it mixes freely with [`Iterator::next`].
    ///
    /// ```
    /// use eventsig::ring::Run;
    /// let (mut tx, mut rx) = eventsig::ring::ring(4)?;
    /// for i in 0..6u32 { let _ = tx.push(i); }
    /// let mut drain = rx.drain();
    /// match drain.next_run() {
    ///     Some(Run::Events(events)) => assert_eq!(&*events, &[0, 1, 2, 3]),
    ///     other => panic!("{other:?}"),
    /// }
    /// assert!(matches!(drain.next_run(), Some(Run::Lost { first: 4, count: 2 })));
    /// assert!(drain.next_run().is_none());
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn next_run;
}

/// One step of [`Drain::next_run`]: consecutive events as a slice, or a gap.
///
/// ```
/// use eventsig::ring::Run;
/// let (mut tx, mut rx) = eventsig::ring::ring(2)?;
/// for i in 0..3u64 { let _ = tx.push(i); }
/// let mut drain = rx.drain();
/// let mut seen = Vec::new();
/// while let Some(run) = drain.next_run() {
///     seen.push(match run {
///         Run::Events(events) => format!("events {:?}", &*events),
///         Run::Lost { first, count } => format!("lost {count} from {first}"),
///     });
/// }
/// assert_eq!(seen, ["events [0, 1]", "lost 1 from 2"]);
/// # Ok::<(), eventsig::BuildError>(())
/// ```
#[cfg(not(eventsig_loom))]
#[derive(Debug)]
pub enum Run<'a, T> {
    /// Events in send order, with no gap between them.
    Events(Events<'a, T>),
    /// As [`Delivery::Lost`].
    Lost {
        /// Sequence number of the first dropped attempt.
        first: u64,
        /// How many consecutive attempts were dropped.
        count: u64,
    },
}

/// Consecutive events of a [`Run`], read in place: a `[T]` (through
/// `Deref`/`DerefMut`). They are dropped in place when this is dropped; move
/// one out with [`std::mem::take`] or [`std::mem::replace`] if needed.
///
/// ```
/// use eventsig::ring::Run;
/// let (mut tx, mut rx) = eventsig::ring::ring::<String>(4)?;
/// tx.push("kept".to_string()).unwrap();
/// tx.push("dropped with the run".to_string()).unwrap();
/// let mut drain = rx.drain();
/// let Some(Run::Events(mut events)) = drain.next_run() else { unreachable!() };
/// let kept = std::mem::take(&mut events[0]);
/// assert_eq!(events.len(), 2);
/// drop(events);
/// assert_eq!(kept, "kept");
/// # Ok::<(), eventsig::BuildError>(())
/// ```
#[cfg(not(eventsig_loom))]
pub struct Events<'a, T> {
    ptr: *mut T,
    len: usize,
    _slots: PhantomData<&'a mut [T]>,
}

#[cfg(not(eventsig_loom))]
impl<T> Events<'_, T> {
    /// Events read in place at `ptr..ptr + len`, for another ring's runs.
    ///
    /// # Safety
    ///
    /// `ptr..ptr + len` are initialised values in one allocation that the
    /// caller hands over: nobody else reads, writes or drops them while the
    /// result lives (its lifetime must borrow what guarantees that), and
    /// nobody but it drops them.
    pub(crate) unsafe fn from_raw(ptr: *mut T, len: usize) -> Self {
        Events {
            ptr,
            len,
            _slots: PhantomData,
        }
    }
}

#[cfg(not(eventsig_loom))]
impl<T> std::ops::Deref for Events<'_, T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        // SAFETY: `ptr..ptr + len` are initialised values the consumer took
        // out of the ring's window (its head is past them), inside one
        // allocation; the producer does not reuse them before the drain
        // publishes, which its borrow by this run prevents until we drop.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

#[cfg(not(eventsig_loom))]
impl<T> std::ops::DerefMut for Events<'_, T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `deref`; the run is borrowed mutably.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

#[cfg(not(eventsig_loom))]
impl<T> Drop for Events<'_, T> {
    fn drop(&mut self) {
        // SAFETY: as in `deref`; each value is dropped exactly once, here
        // (the consumer's head already moved past them).
        unsafe { std::ptr::drop_in_place(std::ptr::slice_from_raw_parts_mut(self.ptr, self.len)) }
    }
}

#[cfg(not(eventsig_loom))]
impl<T: fmt::Debug> fmt::Debug for Events<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_wrap_over_twice_the_capacity() {
        let (mut tx, mut rx) = ring::<u32>(3).unwrap();
        for round in 0..10u32 {
            for i in 0..3 {
                tx.push(round * 3 + i).unwrap();
            }
            assert_eq!(tx.push(99), Err(99));
            let got: Vec<_> = rx.drain().collect();
            assert_eq!(got.len(), 4);
            assert_eq!(got[0], Delivery::Event(round * 3));
            assert_eq!(got[2], Delivery::Event(round * 3 + 2));
            assert!(matches!(got[3], Delivery::Lost { count: 1, .. }));
        }
    }

    #[test]
    fn unread_entries_are_dropped_with_the_ring() {
        let marker = Arc::new(());
        let (mut tx, mut rx) = ring(4).unwrap();
        for _ in 0..4 {
            tx.push(Arc::clone(&marker)).unwrap();
        }
        drop(rx.pop());
        drop((tx, rx));
        assert_eq!(Arc::strong_count(&marker), 1);
    }
}
