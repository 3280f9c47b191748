//! publish-repo's suite state files read back: a generation's full state and delta, and the
//! older layouts (SUITE.state + SUITE.delta, SUITE.json). The input's first byte picks the
//! layout; the rest is split into files at `--8<--` lines. The names are those a real run
//! wrote (the seeds are its files), so that a delta finds its base.
#![no_main]
use libfuzzer_sys::fuzz_target;

const SUITE: &str = "testing";
const LIVE: &str = "20261207T170608.340948357Z";
const BASE: &str = "20261207T170608.129246281Z";

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let repo = cdkit_fuzz::fresh_dir("repo_state");
    let files = cdkit_fuzz::parts(rest, 2);
    let first = files[0];
    let second = files.get(1).copied();
    let rel = |name: String| format!(".publish-repo/suites/{name}");
    match pick % 3 {
        0 => {
            std::fs::create_dir_all(repo.join("dists")).expect("dists");
            std::os::unix::fs::symlink(format!(".{SUITE}.{LIVE}"), repo.join("dists").join(SUITE))
                .expect("link");
            match second {
                Some(delta) => {
                    cdkit_fuzz::put(&repo, &rel(format!("{SUITE}@{BASE}.state")), first);
                    cdkit_fuzz::put(&repo, &rel(format!("{SUITE}@{LIVE}.delta")), delta);
                }
                None => {
                    cdkit_fuzz::put(&repo, &rel(format!("{SUITE}@{LIVE}.state")), first);
                }
            }
        }
        1 => {
            cdkit_fuzz::put(&repo, &rel(format!("{SUITE}.state")), first);
            if let Some(delta) = second {
                cdkit_fuzz::put(&repo, &rel(format!("{SUITE}.delta")), delta);
            }
        }
        _ => {
            cdkit_fuzz::put(&repo, &rel(format!("{SUITE}.json")), first);
        }
    }
    if let Ok(state) = publish_repo::state::load(&repo, SUITE) {
        let _ = state.find("fz-pkg", "2.0-1", "all");
    }
});
