//! The error types of the channel operations. Each `Debug` impl works for any
//! `T`: a payload handed back is not printed.

use std::fmt;

/// The error of [`Sender::send`](crate::Sender::send): the value comes back.
///
/// ```
/// use eventsig::SendError;
/// let (mut tx, rx) = eventsig::channel::<u32>(1)?;
/// tx.send(1).unwrap();
/// match tx.send(2) {
///     Err(SendError::Full(v)) => assert_eq!(v, 2),   // dropped and counted
///     other => panic!("{other:?}"),
/// }
/// drop(rx);
/// assert!(matches!(tx.send(3), Err(SendError::Closed(3))));
/// # Ok::<(), eventsig::BuildError>(())
/// ```
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum SendError<T> {
    /// The ring is full: the attempt was counted as dropped and will be
    /// reported to the receiver as part of a [`Lost`](crate::Delivery::Lost)
    /// gap and an [`Overflow`](crate::Overflow).
    Full(T),
    /// The receiver is gone.
    Closed(T),
}

impl<T> SendError<T> {
    /// The value that was not sent.
    ///
    /// ```
    /// assert_eq!(eventsig::SendError::Full(7).into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            SendError::Full(v) | SendError::Closed(v) => v,
        }
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Full(_) => f.write_str("Full(..)"),
            SendError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Full(_) => f.write_str("the event ring is full; the event was dropped"),
            SendError::Closed(_) => f.write_str("the receiver is gone"),
        }
    }
}

impl<T> std::error::Error for SendError<T> {}

/// The error of [`Receiver::try_recv`](crate::Receiver::try_recv).
///
/// ```
/// use eventsig::TryRecvError;
/// let (tx, mut rx) = eventsig::channel::<u32>(1)?;
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
/// drop(tx);
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
/// # Ok::<(), eventsig::BuildError>(())
/// ```
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum TryRecvError {
    /// No event and no gap is pending now.
    Empty,
    /// Every producer handle is gone and everything they sent was delivered.
    /// Signals they raised can still be taken.
    Closed,
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("no event is pending"),
            TryRecvError::Closed => f.write_str("every sender is gone and all was delivered"),
        }
    }
}

impl std::error::Error for TryRecvError {}

/// The error of [`Raiser::raise`](crate::Raiser::raise) and
/// [`Sender::raise`](crate::Sender::raise).
///
/// ```
/// use eventsig::{RaiseError, Signal};
/// let (tx, rx) = eventsig::channel::<u32>(1)?;
/// let s = Signal::new(0).unwrap();
/// assert_eq!(tx.raise(s), Ok(()));
/// drop(rx);
/// assert_eq!(tx.raise(s), Err(RaiseError::Closed));
/// # Ok::<(), eventsig::BuildError>(())
/// ```
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
#[non_exhaustive]
pub enum RaiseError {
    /// The receiver is gone.
    Closed,
}

impl fmt::Display for RaiseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RaiseError::Closed => f.write_str("the receiver is gone"),
        }
    }
}

impl std::error::Error for RaiseError {}
