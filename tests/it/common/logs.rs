//! Log capture for tests that assert on what was logged.
//!
//! One global subscriber, installed on first use, writes each thread's
//! events into that thread's capture, when it has one, and drops the rest.
//! A scoped subscriber per test (`tracing::subscriber::set_default`) can be
//! blinded: `tracing` caches each callsite's interest for the whole process,
//! and while a single dispatcher is registered that cache is filled from the
//! registering thread's subscriber, so a parallel test without one can
//! switch a log line off for everyone. With a global subscriber every
//! thread has one, and its filter is asked per event.
//!
//! A `#[tokio::test]` runtime runs the test's tasks (and the servers it
//! starts) on the test's thread, so their events land in its capture.

use std::cell::RefCell;
use std::io::Write;
use std::sync::{Arc, Mutex, Once};

use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::dynamic_filter_fn;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;

type Sink = Arc<Mutex<Vec<u8>>>;

thread_local! {
    static SINK: RefCell<Option<Sink>> = const { RefCell::new(None) };
}

fn sink() -> Option<Sink> {
    SINK.with(|sink| sink.borrow().clone())
}

/// The lines logged (DEBUG and above) on this thread while it is alive.
pub struct Logs {
    lines: Sink,
}

impl Logs {
    pub fn capture() -> Logs {
        static INSTALL: Once = Once::new();
        INSTALL.call_once(|| {
            let layer = tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(ThreadSink)
                // Dynamic: asked per event, never cached per callsite (a
                // plain `filter_fn` caches its first answer for good).
                .with_filter(dynamic_filter_fn(|meta, _| {
                    *meta.level() <= tracing::Level::DEBUG && sink().is_some()
                }));
            tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
                .expect("no other global subscriber in the test binary");
        });
        let lines = Sink::default();
        SINK.with(|sink| *sink.borrow_mut() = Some(lines.clone()));
        Logs { lines }
    }

    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8(self.lines.lock().unwrap().clone()).unwrap()
    }

    /// The lines that hold `needle`.
    pub fn lines_with(&self, needle: &str) -> Vec<String> {
        self.text()
            .lines()
            .filter(|line| line.contains(needle))
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Logs {
    fn drop(&mut self) {
        SINK.with(|sink| sink.borrow_mut().take());
    }
}

/// Writes into the current thread's capture, if any.
struct ThreadSink;

impl<'a> MakeWriter<'a> for ThreadSink {
    type Writer = ThreadSink;

    fn make_writer(&'a self) -> Self::Writer {
        ThreadSink
    }
}

impl Write for ThreadSink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if let Some(sink) = sink() {
            sink.lock().unwrap().extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
