//! Where log lines go: a buffer that a thread of its own writes to stderr in batches.
//!
//! A request appends its line to a shared buffer (a lock and a copy: no allocation, no
//! system call) and goes on. The writer thread takes the whole buffer, writes it in one
//! call, then rests [`REST`] before it takes the next: under load that is one write a few
//! milliseconds apart whatever the number of lines, and when the server is idle the first
//! line is written at once. Nothing is dropped: a producer that finds [`FULL`] bytes
//! waiting (stderr is slower than the lines) waits until the writer has taken them. The
//! [`Flush`] guard, dropped when `main` returns, writes what is left.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// The writer's rest between two writes.
const REST: Duration = Duration::from_millis(5);
/// Bytes waiting beyond which producers wait for the writer.
const FULL: usize = 1 << 20;
/// A buffer's capacity kept between writes (a burst's larger one is given back).
const KEEP: usize = 64 * 1024;

#[derive(Default)]
struct State {
    lines: Vec<u8>,
    /// The writer has written everything and stopped.
    finished: bool,
    /// The writer waits for lines (producers then wake it).
    writer_idle: bool,
    /// Producers wait for room.
    producers_waiting: bool,
    closing: bool,
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the writer: lines arrived, or closing.
    lines_ready: Condvar,
    /// Wakes producers: the writer took the lines. Also wakes `Flush` when the writer
    /// has finished.
    room: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the buffer half-written in a way
        // that matters for the next line: keep logging.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The `MakeWriter` handed to `tracing-subscriber`: each line is one `write` of its
/// formatted bytes.
#[derive(Clone)]
pub(crate) struct LogWriter {
    shared: Arc<Shared>,
}

/// Writes what is left when dropped, then stops the writer thread.
pub(crate) struct Flush {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Starts the writer thread over `out`.
pub(crate) fn start(out: impl Write + Send + 'static) -> std::io::Result<(LogWriter, Flush)> {
    let shared = Arc::new(Shared {
        state: Mutex::new(State::default()),
        lines_ready: Condvar::new(),
        room: Condvar::new(),
    });
    let thread = {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name("authgate-log".into())
            .spawn(move || write_loop(&shared, out))?
    };
    Ok((
        LogWriter {
            shared: shared.clone(),
        },
        Flush {
            shared,
            thread: Some(thread),
        },
    ))
}

impl Write for &LogWriter {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let shared = &self.shared;
        let mut state = shared.lock();
        while state.lines.len() >= FULL && !state.closing {
            state.producers_waiting = true;
            state = shared
                .room
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.lines.extend_from_slice(line);
        if state.writer_idle {
            state.writer_idle = false;
            shared.lines_ready.notify_one();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = &'a LogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self
    }
}

/// How long the exit waits for the last lines: a stalled stderr reader must not keep the
/// process from ending.
const FLUSH_WAIT: Duration = Duration::from_secs(2);

impl Drop for Flush {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.closing = true;
        self.shared.lines_ready.notify_one();
        let (state, waited) = self
            .shared
            .room
            .wait_timeout_while(state, FLUSH_WAIT, |s| !s.finished)
            .unwrap_or_else(PoisonError::into_inner);
        let finished = state.finished && !waited.timed_out();
        drop(state);
        if let Some(thread) = self.thread.take() {
            if finished {
                let _ = thread.join();
            }
            // Else the thread is left blocked in its write; the process ends anyway.
        }
    }
}

/// The writer thread: takes what has gathered, writes it in one call, rests.
fn write_loop(shared: &Shared, mut out: impl Write) {
    let mut taken = Vec::with_capacity(KEEP);
    loop {
        let closing = {
            let mut state = shared.lock();
            while state.lines.is_empty() && !state.closing {
                state.writer_idle = true;
                state = shared
                    .lines_ready
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            state.writer_idle = false;
            std::mem::swap(&mut state.lines, &mut taken);
            if state.producers_waiting {
                state.producers_waiting = false;
                shared.room.notify_all();
            }
            state.closing && taken.is_empty()
        };
        if closing {
            let _ = out.flush();
            shared.lock().finished = true;
            shared.room.notify_all();
            return;
        }
        // A failed write (stderr closed) loses these lines, never the server.
        let _ = out.write_all(&taken).and_then(|()| out.flush());
        taken.clear();
        taken.shrink_to(KEEP);
        std::thread::sleep(REST);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `Write` into a shared vector, with a count of writes.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<(Vec<u8>, usize)>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let mut s = self.0.lock().unwrap();
            s.0.extend_from_slice(buf);
            s.1 += 1;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_is_written_in_order_and_in_few_writes() {
        let sink = Sink::default();
        let (lines, flush) = start(sink.clone()).unwrap();
        let producers: Vec<_> = (0..4)
            .map(|p| {
                let lines = lines.clone();
                std::thread::spawn(move || {
                    for i in 0..20_000 {
                        (&lines)
                            .write_all(format!("p{p} {i}\n").as_bytes())
                            .unwrap();
                    }
                })
            })
            .collect();
        for p in producers {
            p.join().unwrap();
        }
        drop(flush);
        let (bytes, writes) = std::mem::take(&mut *sink.0.lock().unwrap());
        let text = String::from_utf8(bytes).unwrap();
        for p in 0..4 {
            let mine: Vec<usize> = text
                .lines()
                .filter_map(|l| l.strip_prefix(&format!("p{p} ")))
                .map(|n| n.parse().unwrap())
                .collect();
            assert_eq!(mine, (0..20_000).collect::<Vec<_>>(), "producer {p}");
        }
        assert!(writes < 80_000 / 10, "{writes} writes for 80,000 lines");
    }

    #[test]
    fn a_line_alone_is_written_without_waiting_for_more() {
        let sink = Sink::default();
        let (lines, _flush) = start(sink.clone()).unwrap();
        (&lines).write_all(b"alone\n").unwrap();
        for _ in 0..200 {
            if sink.0.lock().unwrap().0 == b"alone\n" {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("the line was not written within a second");
    }

    #[test]
    #[allow(clippy::disallowed_methods)] // the exit's real duration is what is checked
    fn the_exit_does_not_wait_for_a_stalled_stderr_beyond_its_bound() {
        /// A writer whose reader never reads.
        struct Stalled;
        impl Write for Stalled {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                std::thread::sleep(Duration::from_secs(3600));
                Ok(0)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let (lines, flush) = start(Stalled).unwrap();
        (&lines).write_all(b"never read\n").unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let started = std::time::Instant::now();
        drop(flush);
        assert!(started.elapsed() < FLUSH_WAIT + Duration::from_secs(1));
    }

    #[test]
    fn a_full_buffer_makes_producers_wait_not_lose_lines() {
        /// A writer slower than the producers.
        #[derive(Clone, Default)]
        struct Slow(Sink);
        impl Write for Slow {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                std::thread::sleep(Duration::from_millis(20));
                self.0.write(buf)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let slow = Slow::default();
        let (lines, flush) = start(slow.clone()).unwrap();
        let line = [b'x'; 1023];
        for _ in 0..4 * 1024 {
            (&lines).write_all(&line).unwrap();
            (&lines).write_all(b"\n").unwrap();
            assert!(lines.shared.lock().lines.len() <= FULL + 1024);
        }
        drop(flush);
        assert_eq!(slow.0 .0.lock().unwrap().0.len(), 4 * 1024 * 1024);
    }
}
