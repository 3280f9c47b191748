//! The batch plan with Ansible `serial` semantics (`1,5,20%`: the first batch is the canary,
//! the last value repeats, a percentage of the whole fleet is at least one host) and the
//! failure threshold `--max-fail N|P%`, counted over the whole run and *exceeded*, not reached,
//! to abort (counting per batch instead once let a GitLab deploy drain eight hosts at once).

use std::str::FromStr;

/// One value of `--batch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// A number of hosts.
    Hosts(usize),
    /// A share of the hosts (rounded up, at least one).
    Percent(u32),
}

/// `--batch`: a list of sizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchSpec(pub Vec<Size>);

impl FromStr for BatchSpec {
    type Err = String;
    fn from_str(text: &str) -> Result<BatchSpec, String> {
        let mut sizes = Vec::new();
        for part in text.split(',').map(str::trim) {
            let size = match part.strip_suffix('%') {
                Some(p) => match p.parse::<u32>() {
                    Ok(n) if (1..=100).contains(&n) => Size::Percent(n),
                    _ => {
                        return Err(format!(
                            "--batch {text:?}: {part:?} is not a percentage from 1% to 100%"
                        ))
                    }
                },
                None => match part.parse::<usize>() {
                    Ok(n) if n >= 1 => Size::Hosts(n),
                    _ => {
                        return Err(format!(
                            "--batch {text:?}: {part:?} is not a host count of at least 1"
                        ))
                    }
                },
            };
            sizes.push(size);
        }
        Ok(BatchSpec(sizes))
    }
}

impl BatchSpec {
    /// Split `total` hosts (by index) into batches.
    pub fn plan(&self, total: usize) -> Vec<Vec<usize>> {
        let mut batches = Vec::new();
        let mut next = 0;
        let mut sizes = self.0.iter();
        let mut last = Size::Hosts(total.max(1));
        while next < total {
            let size = match sizes.next() {
                Some(s) => {
                    last = *s;
                    *s
                }
                None => last,
            };
            let count = match size {
                Size::Hosts(n) => n,
                Size::Percent(p) => (total * p as usize / 100).max(1),
            };
            let end = (next + count).min(total);
            batches.push((next..end).collect());
            next = end;
        }
        batches
    }
}

/// `--max-fail`: how many failed hosts the run tolerates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxFail {
    /// At most this many hosts.
    Hosts(usize),
    /// At most this share of the planned hosts.
    Percent(u32),
}

impl FromStr for MaxFail {
    type Err = String;
    fn from_str(text: &str) -> Result<MaxFail, String> {
        match text.trim().strip_suffix('%') {
            Some(p) => p
                .parse::<u32>()
                .ok()
                .filter(|n| *n <= 100)
                .map(MaxFail::Percent)
                .ok_or_else(|| format!("--max-fail {text:?} is not a percentage from 0% to 100%")),
            None => text
                .trim()
                .parse::<usize>()
                .map(MaxFail::Hosts)
                .map_err(|_| format!("--max-fail {text:?} is not a host count or a percentage")),
        }
    }
}

impl MaxFail {
    /// Whether `failed` of `total` hosts exceeds the threshold (reaching it does not).
    pub fn exceeded(self, failed: usize, total: usize) -> bool {
        match self {
            MaxFail::Hosts(n) => failed > n,
            MaxFail::Percent(p) => failed * 100 > p as usize * total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(spec: &str, total: usize) -> Vec<usize> {
        spec.parse::<BatchSpec>()
            .unwrap()
            .plan(total)
            .iter()
            .map(Vec::len)
            .collect()
    }

    #[test]
    fn serial_semantics() {
        assert_eq!(sizes("1,3,50%", 10), [1, 3, 5, 1]);
        assert_eq!(sizes("1,5,20%", 50), [1, 5, 10, 10, 10, 10, 4]);
        assert_eq!(sizes("1", 3), [1, 1, 1]);
        assert_eq!(
            sizes("10%", 5),
            [1, 1, 1, 1, 1],
            "a percentage is at least one host"
        );
        assert_eq!(sizes("100", 3), [3]);
        assert!(sizes("1,2", 0).is_empty());
        let plan = "2".parse::<BatchSpec>().unwrap().plan(5);
        assert_eq!(plan, vec![vec![0, 1], vec![2, 3], vec![4]]);
        for bad in ["0", "x", "1,,2", "0%", "101%", "-1"] {
            assert!(bad.parse::<BatchSpec>().is_err(), "{bad}");
        }
    }

    #[test]
    fn max_fail_must_be_exceeded() {
        let zero: MaxFail = "0".parse().unwrap();
        assert!(!zero.exceeded(0, 10) && zero.exceeded(1, 10));
        let twenty: MaxFail = "20%".parse().unwrap();
        assert!(!twenty.exceeded(2, 10), "reaching 20% does not abort");
        assert!(twenty.exceeded(3, 10));
        assert!("x".parse::<MaxFail>().is_err() && "120%".parse::<MaxFail>().is_err());
    }
}
