//! The user documentation holds together in a fresh clone: every relative link in README.md,
//! DEVELOPERS.md, CHANGELOG.md and docs/*.md names a file of the repository (and, for a
//! `#anchor` into a Markdown file, one of its headings), no document points outside the
//! repository, and the README stays a front page (at most 12 KiB) rather than the reference.

use cdkit_testkit::workspace_root;
use std::path::{Path, PathBuf};

/// The documents a reader starts from, and every guide they link to.
fn documents(root: &Path) -> Vec<PathBuf> {
    let mut docs: Vec<PathBuf> = ["README.md", "DEVELOPERS.md", "CHANGELOG.md"]
        .iter()
        .map(|name| root.join(name))
        .collect();
    let dir = root.join("docs");
    let mut guides: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.expect("a docs/ entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    guides.sort();
    docs.extend(guides);
    docs
}

/// The targets of Markdown inline links `[text](target)` outside code blocks and code spans.
fn link_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut in_block = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if in_block {
            continue;
        }
        // Code spans may hold `](` (shell, regexes): only text outside backticks is read.
        let prose: String = line
            .split('`')
            .enumerate()
            .filter(|(i, _)| i % 2 == 0)
            .map(|(_, part)| part)
            .collect::<Vec<_>>()
            .join(" ");
        let mut rest = prose.as_str();
        while let Some(start) = rest.find("](") {
            let after = &rest[start + 2..];
            match after.find(')') {
                Some(end) => {
                    targets.push(after[..end].to_string());
                    rest = &after[end..];
                }
                None => break,
            }
        }
    }
    targets
}

/// A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces to `-`.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(text: &str) -> Vec<String> {
    let mut in_block = false;
    let mut found = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
        } else if !in_block && line.starts_with('#') {
            found.push(anchor(line.trim_start_matches('#')));
        }
    }
    found
}

#[test]
fn every_relative_link_in_the_docs_resolves_inside_the_repository() {
    let root = workspace_root().canonicalize().expect("the workspace root");
    let mut broken = Vec::new();
    let mut checked = 0;
    for doc in documents(&root) {
        let text =
            std::fs::read_to_string(&doc).unwrap_or_else(|e| panic!("read {}: {e}", doc.display()));
        let name = doc
            .strip_prefix(&root)
            .unwrap_or(&doc)
            .display()
            .to_string();
        for target in link_targets(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (path, fragment) = match target.split_once('#') {
                Some((path, fragment)) => (path, Some(fragment)),
                None => (target.as_str(), None),
            };
            let file = if path.is_empty() {
                doc.clone()
            } else {
                doc.parent().expect("a document's directory").join(path)
            };
            let Ok(resolved) = file.canonicalize() else {
                broken.push(format!("{name}: {target}: no such file"));
                continue;
            };
            if !resolved.starts_with(&root) {
                broken.push(format!("{name}: {target}: outside the repository"));
                continue;
            }
            if let Some(fragment) = fragment {
                let is_markdown = resolved.extension().is_some_and(|ext| ext == "md");
                let target_text = std::fs::read_to_string(&resolved).unwrap_or_default();
                if is_markdown && !anchors(&target_text).iter().any(|a| a == fragment) {
                    broken.push(format!("{name}: {target}: no heading with that anchor"));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
    // The docs link to each other; finding none would mean the reader above is broken.
    assert!(checked > 20, "only {checked} relative links found");
}

#[test]
fn the_docs_point_at_nothing_outside_the_repository() {
    let root = workspace_root();
    for doc in documents(&root) {
        let text =
            std::fs::read_to_string(&doc).unwrap_or_else(|e| panic!("read {}: {e}", doc.display()));
        for (n, line) in text.lines().enumerate() {
            assert!(
                !line.contains("../shared") && !line.contains("CONVENTIONS"),
                "{}:{}: names a file outside the repository: {line}",
                doc.display(),
                n + 1
            );
        }
    }
}

#[test]
fn the_readme_is_a_front_page() {
    let readme = workspace_root().join("README.md");
    let size = std::fs::metadata(&readme).expect("README.md").len();
    assert!(
        size <= 12 * 1024,
        "README.md is {size} bytes; the reference belongs in docs/"
    );
}
