//! An ordered parallel map over byte blocks: blocks go to worker threads, results come back
//! in submission order. Used for gzip, whose blocks are independent; the order of the output
//! never depends on which thread finished first, so the bytes never depend on the thread
//! count or the machine.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

/// The work each block gets (e.g. "compress into a gzip member").
pub(crate) type BlockFn = dyn Fn(&[u8]) -> io::Result<Vec<u8>> + Send + Sync;

type Job = (u64, Vec<u8>);
/// The result and the input buffer, handed back for reuse.
type Done = (u64, io::Result<Vec<u8>>, Vec<u8>);

/// A fixed set of worker threads with at most `2 × threads` blocks in flight, which bounds
/// memory to a few blocks per thread whatever the input size.
pub(crate) struct OrderedPool {
    jobs: Option<SyncSender<Job>>,
    done: Receiver<Done>,
    workers: Vec<JoinHandle<()>>,
    submitted: u64,
    written: u64,
    ready: BTreeMap<u64, Vec<u8>>,
    max_in_flight: u64,
    /// Input buffers that came back from the workers: reusing them keeps the allocation
    /// count fixed (and avoids freeing memory on another thread than allocated it, which
    /// makes glibc's heap grow).
    spare: Vec<Vec<u8>>,
}

impl OrderedPool {
    /// Start `threads` (at least 1) workers running `work`.
    pub(crate) fn new(threads: usize, work: Arc<BlockFn>) -> io::Result<Self> {
        let threads = threads.max(1);
        let (job_tx, job_rx) = mpsc::sync_channel::<Job>(threads);
        let job_rx = Arc::new(Mutex::new(job_rx));
        let (done_tx, done_rx) = mpsc::channel::<Done>();
        let mut workers = Vec::with_capacity(threads);
        for i in 0..threads {
            let job_rx = Arc::clone(&job_rx);
            let done_tx = done_tx.clone();
            let work = Arc::clone(&work);
            let handle = std::thread::Builder::new()
                .name(format!("deb-compress-{i}"))
                .spawn(move || worker(&job_rx, &done_tx, &*work))?;
            workers.push(handle);
        }
        Ok(OrderedPool {
            jobs: Some(job_tx),
            done: done_rx,
            workers,
            submitted: 0,
            written: 0,
            ready: BTreeMap::new(),
            max_in_flight: 2 * threads as u64,
            spare: Vec::new(),
        })
    }

    /// Queue one block; writes finished results to `out` in order, waiting for the oldest
    /// one whenever the in-flight limit is reached.
    pub(crate) fn submit(&mut self, block: Vec<u8>, out: &mut dyn Write) -> io::Result<()> {
        while self.submitted - self.written >= self.max_in_flight {
            self.write_next(out)?;
        }
        let jobs = self.jobs.as_ref().ok_or_else(stopped)?;
        jobs.send((self.submitted, block)).map_err(|_| stopped())?;
        self.submitted += 1;
        Ok(())
    }

    /// An empty buffer for the next block: a returned one if there is one.
    pub(crate) fn buffer(&mut self, capacity: usize) -> Vec<u8> {
        match self.spare.pop() {
            Some(mut b) => {
                b.clear();
                b
            }
            None => Vec::with_capacity(capacity),
        }
    }

    /// Number of blocks submitted so far.
    pub(crate) fn submitted(&self) -> u64 {
        self.submitted
    }

    /// Wait for every submitted block and write the rest of the results, in order.
    pub(crate) fn drain(&mut self, out: &mut dyn Write) -> io::Result<()> {
        while self.written < self.submitted {
            self.write_next(out)?;
        }
        Ok(())
    }

    /// Write the result of block number `self.written`, waiting for it if needed.
    fn write_next(&mut self, out: &mut dyn Write) -> io::Result<()> {
        loop {
            if let Some(bytes) = self.ready.remove(&self.written) {
                out.write_all(&bytes)?;
                self.written += 1;
                return Ok(());
            }
            let (index, result, input) = self.done.recv().map_err(|_| stopped())?;
            self.spare.push(input);
            self.ready.insert(index, result?);
        }
    }
}

impl Drop for OrderedPool {
    /// Closing the job channel ends the workers; joining them means no thread outlives the
    /// writer, also on an error path.
    fn drop(&mut self) {
        self.jobs.take();
        for handle in self.workers.drain(..) {
            let _ = handle.join();
        }
    }
}

fn worker(jobs: &Mutex<Receiver<Job>>, done: &mpsc::Sender<Done>, work: &BlockFn) {
    loop {
        let job = jobs.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok((index, block)) = job else { return };
        let result = work(&block);
        if done.send((index, result, block)).is_err() {
            return;
        }
    }
}

fn stopped() -> io::Error {
    io::Error::other("a compression worker thread stopped unexpectedly")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_submission_order_whatever_the_thread_count() {
        for threads in [1, 2, 7] {
            // Later blocks finish first: the output must still be in order.
            let work: Arc<BlockFn> = Arc::new(|b: &[u8]| {
                std::thread::sleep(std::time::Duration::from_millis(u64::from(10 - b[0] % 10)));
                Ok(b.to_vec())
            });
            let mut pool = OrderedPool::new(threads, work).unwrap();
            let mut out = Vec::new();
            for i in 0..40u8 {
                pool.submit(vec![i], &mut out).unwrap();
            }
            pool.drain(&mut out).unwrap();
            assert_eq!(out, (0..40u8).collect::<Vec<_>>(), "threads={threads}");
        }
    }

    #[test]
    fn a_failing_block_is_reported() {
        let work: Arc<BlockFn> = Arc::new(|b: &[u8]| {
            if b[0] == 3 {
                Err(io::Error::other("boom"))
            } else {
                Ok(b.to_vec())
            }
        });
        let mut pool = OrderedPool::new(2, work).unwrap();
        let mut out = Vec::new();
        let mut result = Ok(());
        for i in 0..10u8 {
            result = result.and_then(|_| pool.submit(vec![i], &mut out));
        }
        let err = result.and_then(|_| pool.drain(&mut out)).unwrap_err();
        assert_eq!(err.to_string(), "boom");
    }
}
