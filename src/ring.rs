//! The events layer: a fixed-capacity lock-free SPSC ring that also carries
//! its own loss markers.
//!
//! Each side owns one index and caches the other's ([`CachePadded`] keeps them
//! on separate cache lines); an index is re-read from the other side only when
//! the ring looks full (producer) or empty (consumer). Indices run over
//! `0..2 * capacity`, so full and empty differ without a spare slot and the
//! capacity is exactly what was asked.
//!
//! # Sequence numbers and gaps
//!
//! Every push attempt gets the next sequence number (0, 1, 2, ...), whether it
//! is accepted or dropped. An accepted event is stored with its number, so the
//! consumer, which knows the number it expects next, sees a gap the moment the
//! next stored number is larger: it reports [`Delivery::Lost`] exactly there,
//! before that event (S7). Drops after the last stored event are found through
//! the producer's published attempt count: once the consumer has taken every
//! stored event, every attempt below that count that it has not seen was a
//! drop. So the loss is reported even while the ring stays full and nothing is
//! sent after it.
//!
//! The producer publishes `tail` before `attempts` (both Release), and the
//! consumer loads `attempts` before `tail` (both Acquire): an attempt count
//! seen by the consumer therefore comes with every accepted event below it.

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
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::ZeroCapacity => f.write_str("capacity must be at least 1"),
            BuildError::CapacityTooLarge { requested } => {
                write!(f, "capacity {requested} is too large to allocate")
            }
            BuildError::Io(e) => write!(f, "cannot build the channel: {e}"),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BuildError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for BuildError {
    fn from(e: std::io::Error) -> BuildError {
        BuildError::Io(e)
    }
}

/// A stored event with the sequence number of its send attempt.
struct Entry<T> {
    seq: u64,
    value: T,
}

type Slot<T> = UnsafeCell<MaybeUninit<Entry<T>>>;

/// Words written by the producer only.
struct ProducerWords {
    /// Next slot position the producer writes, in `0..2 * capacity`.
    tail: AtomicUsize,
    /// Number of push attempts so far (= the next sequence number).
    attempts: AtomicU64,
    /// Number of dropped attempts so far.
    dropped: AtomicU64,
}

struct Inner<T> {
    /// Next slot position the consumer reads, in `0..2 * capacity`; written by
    /// the consumer only.
    head: CachePadded<AtomicUsize>,
    producer: CachePadded<ProducerWords>,
    slots: Box<[Slot<T>]>,
}

// SAFETY: the ring moves `T` values from the producer's thread to the
// consumer's, so `T: Send` is required and sufficient; a slot is accessed by
// one side at a time, as the head/tail protocol decides.
unsafe impl<T: Send> Sync for Inner<T> {}
// SAFETY: as above: only `T: Send` values cross threads.
unsafe impl<T: Send> Send for Inner<T> {}

impl<T> Inner<T> {
    fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Number of stored events between `head` and `tail`.
    fn distance(&self, head: usize, tail: usize) -> usize {
        if tail >= head {
            tail - head
        } else {
            tail + 2 * self.capacity() - head
        }
    }

    fn advance(&self, pos: usize) -> usize {
        if pos + 1 == 2 * self.capacity() {
            0
        } else {
            pos + 1
        }
    }

    fn slot(&self, pos: usize) -> &Slot<T> {
        let cap = self.capacity();
        let index = if pos < cap { pos } else { pos - cap };
        &self.slots[index]
    }
}

impl<T> Drop for Inner<T> {
    fn drop(&mut self) {
        // Both handles are gone (the last `Arc` drop synchronises with them),
        // so plain loads see the final indices.
        let mut pos = self.head.load(Ordering::Relaxed);
        let tail = self.producer.tail.load(Ordering::Relaxed);
        while pos != tail {
            // SAFETY: slots in `head..tail` hold initialised entries that the
            // consumer never took; nobody else can reach them any more.
            self.slot(pos)
                .with_mut(|p| unsafe { (*p).assume_init_drop() });
            pos = self.advance(pos);
        }
    }
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
    if capacity == 0 {
        return Err(BuildError::ZeroCapacity);
    }
    let too_large = BuildError::CapacityTooLarge {
        requested: capacity,
    };
    // Positions run over 0..2 * capacity.
    if capacity > usize::MAX / 2 {
        return Err(too_large);
    }
    let mut slots: Vec<Slot<T>> = Vec::new();
    if slots.try_reserve_exact(capacity).is_err() {
        return Err(too_large);
    }
    slots.extend((0..capacity).map(|_| UnsafeCell::new(MaybeUninit::uninit())));
    let inner = Arc::new(Inner {
        head: CachePadded::new(AtomicUsize::new(0)),
        producer: CachePadded::new(ProducerWords {
            tail: AtomicUsize::new(0),
            attempts: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        }),
        slots: slots.into_boxed_slice(),
    });
    let producer = Producer {
        inner: Arc::clone(&inner),
        tail: 0,
        cached_head: 0,
        next_seq: 0,
        dropped: 0,
        _not_sync: PhantomData,
    };
    let consumer = Consumer {
        inner,
        head: 0,
        published_head: 0,
        cached_tail: 0,
        expected: 0,
        _not_sync: PhantomData,
    };
    Ok((producer, consumer))
}

/// The sending half of a [`ring()`]: `Send`, not `Sync` (one producer).
pub struct Producer<T> {
    inner: Arc<Inner<T>>,
    tail: usize,
    cached_head: usize,
    next_seq: u64,
    dropped: u64,
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
    pub fn push(&mut self, value: T) -> Result<(), T> {
        let seq = self.next_seq;
        self.next_seq = seq + 1;
        if self.is_full() {
            self.dropped += 1;
            let words = &self.inner.producer;
            // Release (both): the consumer that sees this attempt count (or
            // drop count) with Acquire also sees the accepted events before
            // it. Attempts first: a drop that `dropped` shows is already
            // covered by `attempts`, so a drain started after an overflow
            // was read reaches its `Lost` marker.
            words.attempts.store(seq + 1, Ordering::Release);
            words.dropped.store(self.dropped, Ordering::Release);
            return Err(value);
        }
        let tail = self.tail;
        // SAFETY: `is_full` returned false, so the slot at `tail` is outside
        // the consumer's `head..tail` window: the consumer does not read it
        // until the Release store of `tail` below publishes it, and it has
        // finished with the previous entry there (Acquire load of `head` in
        // `is_full`). The slot holds no live entry, so nothing is leaked.
        self.inner
            .slot(tail)
            .with_mut(|p| unsafe { (*p).write(Entry { seq, value }) });
        self.tail = self.inner.advance(tail);
        let words = &self.inner.producer;
        // Release: publishes the entry written above; pairs with the Acquire
        // loads of `tail` in `Consumer::refresh`.
        words.tail.store(self.tail, Ordering::Release);
        // Release: see the module docs; after `tail`, so a consumer that sees
        // this count sees this event too.
        words.attempts.store(seq + 1, Ordering::Release);
        Ok(())
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
        let room = self.free_slots();
        let mut pushed = 0;
        while pushed < room {
            let Some(value) = items.next() else { break };
            let seq = self.next_seq;
            self.next_seq = seq + 1;
            // SAFETY: the slot is within the `room` free slots counted
            // from an Acquire load of `head` (in `free_slots`), so it is
            // outside the consumer's window, as in `push`; it is published
            // by the Release store below.
            self.inner
                .slot(self.tail)
                .with_mut(|p| unsafe { (*p).write(Entry { seq, value }) });
            self.tail = self.inner.advance(self.tail);
            pushed += 1;
        }
        if pushed > 0 {
            let words = &self.inner.producer;
            // Release (both): as in `push`.
            words.tail.store(self.tail, Ordering::Release);
            words.attempts.store(self.next_seq, Ordering::Release);
        }
        pushed
    }

    /// Whether no slot is free, re-reading the consumer's index only when the
    /// cached one says so.
    fn is_full(&mut self) -> bool {
        if self.inner.distance(self.cached_head, self.tail) < self.inner.capacity() {
            return false;
        }
        // Acquire: pairs with the consumer's Release store of `head`, so the
        // consumer's reads of the slots it freed happen before we reuse them.
        self.cached_head = self.inner.head.load(Ordering::Acquire);
        self.inner.distance(self.cached_head, self.tail) == self.inner.capacity()
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
        self.inner.capacity() - self.inner.distance(self.cached_head, self.tail)
    }

    /// The ring's capacity, exactly as asked.
    ///
    /// ```
    /// let (tx, _rx) = eventsig::ring::ring::<u8>(100)?;
    /// assert_eq!(tx.capacity(), 100);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn capacity(&self) -> usize {
        self.inner.capacity()
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

impl<T> fmt::Debug for Producer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer")
            .field("capacity", &self.capacity())
            .field("attempts", &self.next_seq)
            .field("dropped", &self.dropped)
            .finish_non_exhaustive()
    }
}

/// What a [`Consumer`] may deliver without looking again: the attempt count
/// and tail it read together (attempts first, see the module docs).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Snapshot {
    attempts: u64,
    tail: usize,
}

/// The receiving half of a [`ring()`]: `Send`, not `Sync` (one consumer).
pub struct Consumer<T> {
    inner: Arc<Inner<T>>,
    /// Next position to read (may be ahead of the published index while a
    /// batch is being drained).
    head: usize,
    published_head: usize,
    cached_tail: usize,
    /// Sequence number of the next attempt not yet delivered or reported lost.
    expected: u64,
    _not_sync: PhantomData<std::cell::Cell<()>>,
}

impl<T> Consumer<T> {
    /// Reads the producer's words: attempts first, then tail (both Acquire,
    /// pairing with the producer's Release stores in `push`).
    pub(crate) fn snapshot(&mut self) -> Snapshot {
        let words = &self.inner.producer;
        let attempts = words.attempts.load(Ordering::Acquire);
        self.cached_tail = words.tail.load(Ordering::Acquire);
        Snapshot {
            attempts,
            tail: self.cached_tail,
        }
    }

    /// The next delivery that `snap` covers, without publishing the consumer
    /// index (see [`Consumer::publish`]).
    pub(crate) fn next_within(&mut self, snap: &Snapshot) -> Option<Delivery<T>> {
        if self.head == snap.tail {
            // Every stored event below `snap.attempts` has been taken, so the
            // attempts in `expected..snap.attempts` were all dropped.
            if snap.attempts > self.expected {
                let first = self.expected;
                self.expected = snap.attempts;
                return Some(Delivery::Lost {
                    first,
                    count: snap.attempts - first,
                });
            }
            return None;
        }
        let slot = self.inner.slot(self.head);
        // SAFETY: `head != tail` of a snapshot whose tail was loaded with
        // Acquire, so the slot at `head` holds an entry the producer published
        // and will not touch until we publish a `head` past it.
        let seq = slot.with_mut(|p| unsafe { (*p).assume_init_ref().seq });
        if seq > self.expected {
            let first = self.expected;
            self.expected = seq;
            return Some(Delivery::Lost {
                first,
                count: seq - first,
            });
        }
        // SAFETY: as above; the entry is moved out exactly once, since `head`
        // moves past the slot right after and the slot counts as empty then.
        let entry = slot.with_mut(|p| unsafe { (*p).assume_init_read() });
        self.head = self.inner.advance(self.head);
        self.expected = entry.seq + 1;
        Some(Delivery::Event(entry.value))
    }

    /// Publishes the consumer index, freeing the slots read since the last
    /// publication to the producer.
    pub(crate) fn publish(&mut self) {
        if self.published_head != self.head {
            self.published_head = self.head;
            // Release: our reads of the freed slots happen before the
            // producer's reuse of them; pairs with the Acquire load of `head`
            // in `Producer::is_full` and `Producer::free_slots`.
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
    pub fn pop(&mut self) -> Option<Delivery<T>> {
        let mut snap = Snapshot {
            attempts: self.expected,
            tail: self.cached_tail,
        };
        if self.head == self.cached_tail {
            snap = self.snapshot();
        }
        let delivery = self.next_within(&snap);
        self.publish();
        delivery
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
        let snap = self.snapshot();
        Drain {
            consumer: self,
            snap,
        }
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
        words.attempts.load(Ordering::Acquire) > self.expected
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

    /// Push attempts the producer has published so far.
    ///
    /// ```
    /// let (mut tx, rx) = eventsig::ring::ring(1)?;
    /// let _ = tx.push(1);
    /// assert_eq!(rx.attempts(), 1);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn attempts(&self) -> u64 {
        // Acquire: pairs with the Release stores in `Producer::push`.
        self.inner.producer.attempts.load(Ordering::Acquire)
    }

    /// The ring's capacity.
    ///
    /// ```
    /// let (_tx, rx) = eventsig::ring::ring::<u8>(7)?;
    /// assert_eq!(rx.capacity(), 7);
    /// # Ok::<(), eventsig::BuildError>(())
    /// ```
    pub fn capacity(&self) -> usize {
        self.inner.capacity()
    }
}

impl<T> Drop for Consumer<T> {
    fn drop(&mut self) {
        // Entries read by a `Drain` that was leaked (`mem::forget`) before it
        // could publish are already moved out: publish our position so that
        // `Inner::drop` does not drop them a second time.
        self.publish();
    }
}

impl<T> fmt::Debug for Consumer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer")
            .field("capacity", &self.capacity())
            .field("expected", &self.expected)
            .finish_non_exhaustive()
    }
}

/// The iterator of [`Consumer::drain`].
pub struct Drain<'a, T> {
    consumer: &'a mut Consumer<T>,
    snap: Snapshot,
}

impl<T> Iterator for Drain<'_, T> {
    type Item = Delivery<T>;

    fn next(&mut self) -> Option<Delivery<T>> {
        self.consumer.next_within(&self.snap)
    }
}

impl<T> Drop for Drain<'_, T> {
    fn drop(&mut self) {
        self.consumer.publish();
    }
}

impl<T> fmt::Debug for Drain<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Drain").finish_non_exhaustive()
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
