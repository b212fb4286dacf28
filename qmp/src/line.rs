//! [`LineReader`]: QMP's framing, one JSON object per line, with a bound on
//! the line length and typed ends (closed, closed mid-line, too long).

use std::io::{BufRead, BufReader, Read};
use std::time::Duration;

use crate::error::QmpError;

/// Reads newline-terminated lines from a byte stream, keeping at most
/// `limit` bytes per line in memory.
///
/// A read that times out keeps what it already has: the next call continues
/// the same line. A line over the limit is skipped up to its newline and
/// reported as [`QmpError::LineTooLong`]; the reader stays in step.
///
/// ```
/// use eventsig_qmp::{LineReader, QmpError};
/// let mut r = LineReader::new(&b"{\"return\": {}}\r\n{\"ev"[..]);
/// assert_eq!(r.read_line()?, b"{\"return\": {}}\r\n");
/// assert!(matches!(r.read_line(), Err(QmpError::TruncatedLine { bytes: 4 })));
/// assert!(matches!(r.read_line(), Err(QmpError::Closed)));
/// # Ok::<(), QmpError>(())
/// ```
#[derive(Debug)]
pub struct LineReader<R> {
    inner: BufReader<R>,
    /// The line read so far (kept across timeouts).
    line: Vec<u8>,
    limit: usize,
    /// Inside a line over the limit: discard up to its newline.
    skipping: bool,
    /// The socket's read timeout, for the error message.
    timeout: Option<Duration>,
}

impl<R: Read> LineReader<R> {
    /// The default line limit: 1 MiB, far above any QMP event or reply of a
    /// small VM (a `query-block` reply of one drive is about 1 KiB).
    pub const DEFAULT_LIMIT: usize = 1 << 20;

    /// A reader with the default limit.
    pub fn new(reader: R) -> LineReader<R> {
        LineReader::with_limit(reader, Self::DEFAULT_LIMIT)
    }

    /// A reader that keeps at most `limit` bytes of a line (at least 1).
    ///
    /// ```
    /// use eventsig_qmp::{LineReader, QmpError};
    /// let mut r = LineReader::with_limit(&b"0123456789\nok\n"[..], 4);
    /// assert!(matches!(r.read_line(), Err(QmpError::LineTooLong { limit: 4 })));
    /// assert_eq!(r.read_line()?, b"ok\n");
    /// # Ok::<(), QmpError>(())
    /// ```
    pub fn with_limit(reader: R, limit: usize) -> LineReader<R> {
        LineReader {
            inner: BufReader::new(reader),
            line: Vec::new(),
            limit: limit.max(1),
            skipping: false,
            timeout: None,
        }
    }

    /// Tells the reader the underlying read timeout, so that a timeout error
    /// names it. The reader does not set it: do that on the socket.
    pub fn set_timeout_hint(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
    }

    /// The next complete line, with its `\n` (and `\r`, as QEMU sends).
    ///
    /// # Errors
    ///
    /// [`QmpError::Closed`] at the end of the stream, [`QmpError::TruncatedLine`]
    /// when it ends inside a line, [`QmpError::LineTooLong`] for a skipped
    /// line, [`QmpError::Timeout`] when the underlying read timed out (call
    /// again to continue the line), [`QmpError::Io`] otherwise.
    pub fn read_line(&mut self) -> Result<Vec<u8>, QmpError> {
        if self.skipping {
            self.skip_rest()?;
            return Err(QmpError::LineTooLong { limit: self.limit });
        }
        // Room for the limit plus the newline.
        let room = (self.limit + 1).saturating_sub(self.line.len()) as u64;
        let read = (&mut self.inner)
            .take(room)
            .read_until(b'\n', &mut self.line);
        if let Err(e) = read {
            return Err(QmpError::from_io(e, self.timeout));
        }
        if self.line.last() == Some(&b'\n') {
            return Ok(std::mem::take(&mut self.line));
        }
        if self.line.len() > self.limit {
            self.line.clear();
            self.skipping = true;
            self.skip_rest()?;
            return Err(QmpError::LineTooLong { limit: self.limit });
        }
        // Neither a newline nor the limit: the stream ended.
        let partial = std::mem::take(&mut self.line);
        if partial.is_empty() {
            Err(QmpError::Closed)
        } else {
            Err(QmpError::TruncatedLine {
                bytes: partial.len(),
            })
        }
    }

    /// Discards input up to and including the next newline (or the end).
    fn skip_rest(&mut self) -> Result<(), QmpError> {
        while self.skipping {
            let available = match self.inner.fill_buf() {
                Ok(a) => a,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(QmpError::from_io(e, self.timeout)),
            };
            if available.is_empty() {
                self.skipping = false; // the end; the next read reports it
                break;
            }
            let used = match available.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.skipping = false;
                    i + 1
                }
                None => available.len(),
            };
            self.inner.consume(used);
        }
        Ok(())
    }

    /// The underlying reader.
    pub fn get_ref(&self) -> &R {
        self.inner.get_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    /// A reader that hands out its chunks one per `read`, with a timeout
    /// error wherever a chunk is `None`.
    struct Chunks(Vec<Option<&'static [u8]>>);

    impl Read for Chunks {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Ok(0);
            }
            match self.0.remove(0) {
                None => Err(io::ErrorKind::WouldBlock.into()),
                Some(chunk) => {
                    let n = chunk.len().min(buf.len());
                    buf[..n].copy_from_slice(&chunk[..n]);
                    if n < chunk.len() {
                        self.0.insert(0, Some(&chunk[n..]));
                    }
                    Ok(n)
                }
            }
        }
    }

    #[test]
    fn lines_split_across_reads_are_joined() {
        let mut r = LineReader::new(Chunks(vec![
            Some(b"{\"a\""),
            Some(b": 1}\n{"),
            Some(b"}\n"),
        ]));
        assert_eq!(r.read_line().unwrap(), b"{\"a\": 1}\n");
        assert_eq!(r.read_line().unwrap(), b"{}\n");
        assert!(matches!(r.read_line(), Err(QmpError::Closed)));
    }

    #[test]
    fn a_timeout_keeps_the_partial_line() {
        let mut r = LineReader::new(Chunks(vec![Some(b"{\"return\""), None, Some(b": {}}\n")]));
        assert!(matches!(r.read_line(), Err(QmpError::Timeout(_))));
        assert_eq!(r.read_line().unwrap(), b"{\"return\": {}}\n");
    }

    #[test]
    fn end_inside_a_line_is_truncation_then_closed() {
        let mut r = LineReader::new(Chunks(vec![Some(b"{\"event\": \"ST")]));
        assert!(matches!(
            r.read_line(),
            Err(QmpError::TruncatedLine { bytes: 13 })
        ));
        assert!(matches!(r.read_line(), Err(QmpError::Closed)));
    }

    #[test]
    fn long_lines_are_skipped_even_across_timeouts() {
        let mut r = LineReader::with_limit(
            Chunks(vec![Some(b"aaaaaaaa"), None, Some(b"aaaa\nok\n")]),
            4,
        );
        assert!(matches!(r.read_line(), Err(QmpError::Timeout(_))));
        assert!(matches!(
            r.read_line(),
            Err(QmpError::LineTooLong { limit: 4 })
        ));
        assert_eq!(r.read_line().unwrap(), b"ok\n");
    }

    #[test]
    fn a_line_of_exactly_the_limit_fits() {
        let mut r = LineReader::with_limit(&b"abcd\nabcde\n"[..], 4);
        assert_eq!(r.read_line().unwrap(), b"abcd\n");
        assert!(matches!(r.read_line(), Err(QmpError::LineTooLong { .. })));
        assert!(matches!(r.read_line(), Err(QmpError::Closed)));
    }

    #[test]
    fn a_long_line_at_the_end_is_too_long_then_closed() {
        let mut r = LineReader::with_limit(&b"abcdefgh"[..], 4);
        assert!(matches!(r.read_line(), Err(QmpError::LineTooLong { .. })));
        assert!(matches!(r.read_line(), Err(QmpError::Closed)));
    }
}
