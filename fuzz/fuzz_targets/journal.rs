//! A rolling-install deployment record (journal), as rolling-install resumes it and rollback
//! plans from it.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rolling_install::journal::Journal;

fuzz_target!(|data: &[u8]| {
    let dir = cdkit_fuzz::fresh_dir("journal");
    let file = cdkit_fuzz::put(&dir, "record.json", data);
    if let Ok(journal) = Journal::load(&file) {
        let decisions = rollback::plan::from_record(&journal, true);
        let _ = rollback::plan::targets(&decisions, true);
        let _ = rollback::plan::from_record(&journal, false);
        // The hosts rollback opens sessions to, from the record alone.
        for record in &journal.hosts {
            let _ = rollback::plan::host_of(record).target();
        }
        if let Some(lock) = &journal.lock_host {
            let _ = lock.host().target();
        }
    }
});
