//! The bounded mutation run: for one target, replay every corpus input (seeds, generated
//! seeds, regression inputs), then run mutated corpus inputs until a time budget is spent.
//! Each input runs on a worker thread under `catch_unwind`, and the caller waits for it only
//! up to a per-input time limit, so a panic and a hang are both findings with the input
//! kept. There is no coverage feedback: this is property testing over mutated real inputs,
//! cheap enough for every CI run; `scripts/fuzz` is the coverage-guided run.

use std::cell::RefCell;
use std::fmt;
use std::panic::{self, AssertUnwindSafe, PanicHookInfo};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::mutate::{fnv1a, mutate, Rng};
use crate::targets::Target;

/// One corpus input and where it came from (a path, for the report).
pub struct Input {
    /// Where the input came from.
    pub origin: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// Reads every file of each directory that exists, in name order (the order fixes which
/// corpus input a seeded mutation starts from).
pub fn read_corpus(dirs: &[PathBuf]) -> std::io::Result<Vec<Input>> {
    let mut inputs = Vec::new();
    for dir in dirs.iter().filter(|d| d.is_dir()) {
        let mut paths = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_file() {
                paths.push(path);
            }
        }
        paths.sort();
        for path in paths {
            let bytes = std::fs::read(&path)
                .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
            inputs.push(Input {
                origin: path.display().to_string(),
                bytes,
            });
        }
    }
    Ok(inputs)
}

/// How long and how hard to run.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Time for the mutation loop of each target (the replay comes on top).
    pub budget: Duration,
    /// An input that has not returned after this long is a hang.
    pub input_timeout: Duration,
    /// The run's seed; each target's generator starts from it and the target's name.
    pub seed: u64,
    /// Mutated inputs are cut to this length (libFuzzer's -max_len in `scripts/fuzz`).
    pub max_len: usize,
    /// Where a failing input is saved.
    pub failures: PathBuf,
}

/// What a target's run did.
#[derive(Debug)]
pub struct Summary {
    /// Corpus inputs replayed.
    pub replayed: usize,
    /// Mutated inputs run.
    pub mutated: u64,
    /// Time spent, replay included.
    pub elapsed: Duration,
}

/// What went wrong with one input.
#[derive(Debug)]
pub enum Kind {
    /// The target panicked (a failed property assertion is a panic too): the panic message.
    Panic(String),
    /// The target did not return within the time limit.
    Hang(Duration),
}

/// A failing input.
#[derive(Debug)]
pub struct Finding {
    /// The target's name.
    pub target: &'static str,
    /// Panic or hang.
    pub kind: Kind,
    /// The corpus input, or the mutation and the corpus input it started from.
    pub origin: String,
    /// The input.
    pub input: Vec<u8>,
    /// Where it was saved, or why it could not be.
    pub saved: Result<PathBuf, String>,
}

/// Inputs longer than this are shown in hex only in part (the saved file has them whole).
const HEX_SHOWN: usize = 4096;

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Panic(message) => writeln!(
                f,
                "fuzz target {}: panic on {}\n{message}",
                self.target, self.origin
            )?,
            Kind::Hang(limit) => writeln!(
                f,
                "fuzz target {}: hang (no result within {limit:?}) on {}",
                self.target, self.origin
            )?,
        }
        match &self.saved {
            Ok(path) => writeln!(f, "input saved to {}", path.display())?,
            Err(why) => writeln!(f, "input not saved: {why}")?,
        }
        let shown = &self.input[..self.input.len().min(HEX_SHOWN)];
        let hex: String = shown.iter().map(|b| format!("{b:02x}")).collect();
        let more = if shown.len() < self.input.len() {
            " (first bytes only)"
        } else {
            ""
        };
        write!(f, "input, {} bytes, hex{more}: {hex}", self.input.len())
    }
}

thread_local! {
    /// The last panic on this worker thread, as the panic hook formatted it (with location).
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// The prefix of worker thread names: the panic hook keeps their panics for the report
/// instead of printing each one.
const WORKER_PREFIX: &str = "fuzz-";

/// While alive, worker threads' panics are recorded rather than printed; other threads'
/// panics go to the hook that was there before, which is put back on drop.
pub struct PanicCapture {
    previous: Arc<dyn Fn(&PanicHookInfo<'_>) + Sync + Send + 'static>,
}

impl PanicCapture {
    /// Installs the recording hook.
    pub fn install() -> Self {
        let previous: Arc<dyn Fn(&PanicHookInfo<'_>) + Sync + Send + 'static> =
            Arc::from(panic::take_hook());
        let chained = Arc::clone(&previous);
        panic::set_hook(Box::new(move |info| {
            let worker = thread::current()
                .name()
                .is_some_and(|n| n.starts_with(WORKER_PREFIX));
            if worker {
                LAST_PANIC.with(|last| *last.borrow_mut() = Some(info.to_string()));
            } else {
                chained(info);
            }
        }));
        PanicCapture { previous }
    }
}

impl Drop for PanicCapture {
    fn drop(&mut self) {
        // set_hook panics on a panicking thread: leave the recording hook then.
        if !thread::panicking() {
            let previous = Arc::clone(&self.previous);
            let _ = panic::take_hook();
            panic::set_hook(Box::new(move |info| previous(info)));
        }
    }
}

/// A thread that runs the target on each input it is sent, with panics caught.
struct Worker {
    inputs: Sender<Arc<[u8]>>,
    results: Receiver<Result<(), String>>,
}

/// The result of one input.
enum Outcome {
    Returned,
    Panicked(String),
    Hung,
}

impl Worker {
    fn spawn(target: Target) -> std::io::Result<Self> {
        let (inputs, input_rx) = mpsc::channel::<Arc<[u8]>>();
        let (result_tx, results) = mpsc::channel();
        thread::Builder::new()
            .name(format!("{WORKER_PREFIX}{}", target.name))
            // The tools read their input on the main thread, whose stack is 8 MiB.
            .stack_size(8 << 20)
            .spawn(move || {
                for input in input_rx {
                    let result = panic::catch_unwind(AssertUnwindSafe(|| (target.run)(&input)))
                        .map_err(|payload| {
                            LAST_PANIC
                                .with(|last| last.borrow_mut().take())
                                .unwrap_or_else(|| payload_text(payload.as_ref()))
                        });
                    if result_tx.send(result).is_err() {
                        break;
                    }
                }
            })?;
        Ok(Worker { inputs, results })
    }

    fn run(&self, input: Arc<[u8]>, limit: Duration) -> Outcome {
        if self.inputs.send(input).is_err() {
            return Outcome::Panicked("the worker thread is gone".into());
        }
        match self.results.recv_timeout(limit) {
            Ok(Ok(())) => Outcome::Returned,
            Ok(Err(message)) => Outcome::Panicked(message),
            Err(RecvTimeoutError::Timeout) => Outcome::Hung,
            Err(RecvTimeoutError::Disconnected) => {
                Outcome::Panicked("the worker thread ended without a result".into())
            }
        }
    }
}

/// A panic payload's message, when the hook did not record one.
fn payload_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with a non-text payload".into())
}

/// Saves a failing input under `dir` as TARGET-KIND-HASH.
fn save(dir: &Path, target: &str, kind: &Kind, input: &[u8]) -> Result<PathBuf, String> {
    let kind = match kind {
        Kind::Panic(_) => "crash",
        Kind::Hang(_) => "hang",
    };
    let path = dir.join(format!("{target}-{kind}-{:016x}", fnv1a(input)));
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&path, input))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// Runs `target` over `corpus`, then over mutations of it for `settings.budget`; stops at
/// the first failing input. A hung input leaves its worker thread running (a thread cannot
/// be stopped): the caller reports and ends the process.
pub fn run_target(
    target: Target,
    corpus: &[Input],
    settings: &Settings,
) -> std::io::Result<Result<Summary, Finding>> {
    let started = Instant::now();
    let worker = Worker::spawn(target)?;
    let finding = |kind: Kind, origin: String, input: &[u8]| {
        let saved = save(&settings.failures, target.name, &kind, input);
        Finding {
            target: target.name,
            kind,
            origin,
            input: input.to_vec(),
            saved,
        }
    };
    let check = |input: Arc<[u8]>, origin: &dyn Fn() -> String| -> Result<(), Finding> {
        match worker.run(Arc::clone(&input), settings.input_timeout) {
            Outcome::Returned => Ok(()),
            Outcome::Panicked(message) => Err(finding(Kind::Panic(message), origin(), &input)),
            Outcome::Hung => Err(finding(
                Kind::Hang(settings.input_timeout),
                origin(),
                &input,
            )),
        }
    };

    for input in corpus {
        if let Err(found) = check(Arc::from(input.bytes.as_slice()), &|| input.origin.clone()) {
            return Ok(Err(found));
        }
    }

    let empty = Input {
        origin: "the empty input".into(),
        bytes: Vec::new(),
    };
    let bases: Vec<&Input> = if corpus.is_empty() {
        vec![&empty]
    } else {
        corpus.iter().collect()
    };
    let views: Vec<&[u8]> = bases.iter().map(|i| i.bytes.as_slice()).collect();
    let mut rng = Rng::new(settings.seed ^ fnv1a(target.name.as_bytes()));
    let loop_started = Instant::now();
    let mut mutated = 0u64;
    while loop_started.elapsed() < settings.budget {
        let base = bases[rng.below(bases.len())];
        let input = mutate(&mut rng, &base.bytes, &views, settings.max_len);
        mutated += 1;
        let origin = || {
            format!(
                "mutation {mutated} of seed {} (from {})",
                settings.seed, base.origin
            )
        };
        if let Err(found) = check(Arc::from(input), &origin) {
            return Ok(Err(found));
        }
    }
    Ok(Ok(Summary {
        replayed: corpus.len(),
        mutated,
        elapsed: started.elapsed(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Panics on any input that contains "boom"; sleeps on "slow" (a stand-in for a hang that
    /// ends by itself, so the test leaves no busy thread behind).
    fn touchy(data: &[u8]) {
        if data.windows(4).any(|w| w == b"boom") {
            panic!("found a boom");
        }
        if data == b"slow" {
            thread::sleep(Duration::from_secs(2));
        }
    }

    fn settings(failures: &Path) -> Settings {
        Settings {
            budget: Duration::ZERO,
            input_timeout: Duration::from_millis(300),
            seed: 1,
            max_len: 1024,
            failures: failures.to_path_buf(),
        }
    }

    fn input(origin: &str, bytes: &[u8]) -> Input {
        Input {
            origin: origin.into(),
            bytes: bytes.to_vec(),
        }
    }

    #[test]
    fn a_panicking_input_is_reported_with_its_message_and_saved() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let target = Target {
            name: "touchy",
            run: touchy,
        };
        let corpus = [input("fine", b"fine"), input("bad", b"a boom here")];
        let capture = PanicCapture::install();
        let result = run_target(target, &corpus, &settings(dir.path())).expect("a worker");
        drop(capture);
        let found = result.expect_err("the panic is a finding");
        assert_eq!(found.origin, "bad");
        match &found.kind {
            Kind::Panic(message) => assert!(message.contains("found a boom"), "{message}"),
            Kind::Hang(_) => panic!("a panic reported as a hang"),
        }
        let saved = found.saved.as_ref().expect("saved");
        assert_eq!(
            std::fs::read(saved).expect("the saved input"),
            b"a boom here"
        );
        let shown = found.to_string();
        // "a b" in hex: the input is printed, not only saved.
        assert!(
            shown.contains("612062"),
            "hex of the input missing: {shown}"
        );
    }

    #[test]
    fn an_input_over_the_time_limit_is_a_hang() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let target = Target {
            name: "touchy",
            run: touchy,
        };
        let corpus = [input("slow", b"slow")];
        let result = run_target(target, &corpus, &settings(dir.path())).expect("a worker");
        let found = result.expect_err("the slow input is a finding");
        assert!(matches!(found.kind, Kind::Hang(_)), "{found}");
        assert!(found.to_string().contains("hang"), "{found}");
    }

    #[test]
    fn inputs_that_return_pass_and_mutations_run_for_the_budget() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let target = Target {
            name: "quiet",
            run: |_| {},
        };
        let corpus = [input("one", b"one"), input("two", b"two")];
        let mut s = settings(dir.path());
        s.budget = Duration::from_millis(200);
        let summary = run_target(target, &corpus, &s)
            .expect("a worker")
            .expect("no finding");
        assert_eq!(summary.replayed, 2);
        assert!(summary.mutated > 0);
        assert!(summary.elapsed >= s.budget);
    }
}
