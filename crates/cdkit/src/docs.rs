//! Man pages and shell completions generated from a tool's clap definition, for the cdkit
//! Debian package. Every tool's `main` parses its arguments through
//! [`crate::cli::parse`], so `TOOL --cdkit-write-docs STAGE` writes that tool's pages into a
//! package staging tree: the pages always describe exactly the binary that is packaged, and a
//! new tool needs no packaging code of its own.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap_complete::Shell;

// Where each kind of file goes in the package, relative to the staging root: the Debian
// locations that man-db, bash-completion, zsh and fish search.
/// Section 1 man pages, where man-db finds them.
const MAN_DIR: &str = "usr/share/man/man1";
/// bash-completion's lazily loaded completions (one file per command name).
const BASH_DIR: &str = "usr/share/bash-completion/completions";
/// zsh's vendor completions (`_TOOL`), on zsh's default `fpath` in Debian.
const ZSH_DIR: &str = "usr/share/zsh/vendor-completions";
/// fish's vendor completions (`TOOL.fish`).
const FISH_DIR: &str = "usr/share/fish/vendor_completions.d";

/// Write the man pages of `cmd` (one per visible subcommand too, `tool-sub.1.gz`, gzip -9 with
/// no time stamp, as Debian Policy §12.1 asks) and its bash, zsh and fish completions under
/// `stage`. Returns the written paths.
pub fn write(mut cmd: clap::Command, stage: &Path) -> std::io::Result<Vec<PathBuf>> {
    let name = cmd.get_name().to_string();
    let mut written = Vec::new();

    cmd.build();
    let man_dir = stage.join(MAN_DIR);
    std::fs::create_dir_all(&man_dir)?;
    man_pages(&cmd, &man_dir, &mut written)?;

    for (shell, dir, file) in [
        (Shell::Bash, BASH_DIR, name.clone()),
        (Shell::Zsh, ZSH_DIR, format!("_{name}")),
        (Shell::Fish, FISH_DIR, format!("{name}.fish")),
    ] {
        let dir = stage.join(dir);
        std::fs::create_dir_all(&dir)?;
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut cmd, name.clone(), &mut script);
        let path = dir.join(file);
        std::fs::write(&path, script)?;
        written.push(path);
    }
    Ok(written)
}

fn man_pages(cmd: &clap::Command, dir: &Path, written: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for sub in cmd.get_subcommands() {
        if !sub.is_hide_set() && sub.get_name() != "help" {
            man_pages(sub, dir, written)?;
        }
    }
    let man = clap_mangen::Man::new(cmd.clone());
    let mut page = Vec::new();
    man.render(&mut page)?;
    let path = dir.join(format!("{}.gz", man.get_filename()));
    let file = std::fs::File::create(&path)?;
    let mut gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(file, flate2::Compression::best());
    gz.write_all(&page)?;
    gz.finish()?.sync_all()?;
    written.push(path);
    Ok(())
}

/// The command lines of the `Examples:` block in `cmd`'s after-help that run `cmd` itself, each
/// split into words as sh would (quotes, backslash-newline continuations, `VAR=value` prefixes
/// and the other side of a pipe dropped). Tests parse each with the tool's clap definition, so
/// an example in `--help` (and so in the man page) can never drift from the flags it shows.
pub fn help_examples(cmd: &clap::Command) -> Result<Vec<Vec<String>>, String> {
    let name = cmd.get_name();
    let help = cmd
        .get_after_help()
        .map(|h| h.to_string())
        .ok_or_else(|| format!("{name}: --help has no after-help text"))?;
    let block = help
        .split_once("Examples:\n")
        .map(|(_, rest)| rest)
        .ok_or_else(|| format!("{name}: --help has no Examples: block"))?;
    let mut lines = Vec::new();
    let mut pending = String::new();
    for line in block.lines() {
        if line.trim().is_empty() && pending.is_empty() {
            break;
        }
        match line.trim_end().strip_suffix('\\') {
            Some(head) => pending.push_str(head),
            None => {
                pending.push_str(line);
                lines.push(std::mem::take(&mut pending));
            }
        }
    }
    let mut examples = Vec::new();
    for line in lines {
        let words = split_sh(&line).map_err(|e| format!("{name}: example {line:?}: {e}"))?;
        for segment in words.split(|w| w == "|") {
            let mut segment = segment.iter().skip_while(|w| {
                w.split_once('=').is_some_and(|(var, _)| {
                    !var.is_empty() && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                })
            });
            if let Some(first) = segment.next().filter(|w| *w == name) {
                let mut argv = vec![first.clone()];
                argv.extend(segment.cloned());
                examples.push(argv);
            }
        }
    }
    if examples.is_empty() {
        return Err(format!(
            "{name}: the Examples: block has no {name} command line"
        ));
    }
    Ok(examples)
}

/// sh's word splitting for example lines: blanks separate words, single quotes are literal,
/// double quotes and backslashes quote one character; `|` is its own word. No expansions.
fn split_sh(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => words.extend(word.take()),
            '|' => {
                words.extend(word.take());
                words.push("|".to_string());
            }
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err("unterminated single quote".into()),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => w.extend(chars.next()),
                        Some(c) => w.push(c),
                        None => return Err("unterminated double quote".into()),
                    }
                }
            }
            '\\' => word.get_or_insert_with(String::new).extend(chars.next()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_examples_split_like_sh() {
        let cmd = clap::Command::new("tool").after_help(
            "Examples:\n  tool --a 'x y' \\\n      --b \"q\\\"r\"\n  other | VAR=1 tool --c\n  other only\n\nExit status: 0.",
        );
        let got = help_examples(&cmd).unwrap();
        assert_eq!(
            got,
            vec![
                vec!["tool", "--a", "x y", "--b", "q\"r"],
                vec!["tool", "--c"],
            ]
        );
        assert!(help_examples(&clap::Command::new("tool")).is_err());
    }

    #[derive(Debug, clap::Parser)]
    #[command(name = "demo-tool", version, about = "Does one thing")]
    struct Cli {
        #[command(subcommand)]
        command: Sub,
        #[command(flatten)]
        common: crate::cli::CommonArgs,
    }

    #[derive(Debug, clap::Subcommand)]
    enum Sub {
        /// Add things.
        Add {
            #[arg(long)]
            suite: String,
        },
        #[command(hide = true)]
        Secret,
    }

    #[test]
    fn pages_and_completions_land_in_the_package_layout() {
        use clap::CommandFactory;
        let stage = tempfile::tempdir().unwrap();
        let written = write(Cli::command(), stage.path()).unwrap();
        let rel: Vec<String> = written
            .iter()
            .map(|p| p.strip_prefix(stage.path()).unwrap().display().to_string())
            .collect();
        assert_eq!(
            rel,
            [
                "usr/share/man/man1/demo-tool-add.1.gz",
                "usr/share/man/man1/demo-tool.1.gz",
                "usr/share/bash-completion/completions/demo-tool",
                "usr/share/zsh/vendor-completions/_demo-tool",
                "usr/share/fish/vendor_completions.d/demo-tool.fish",
            ]
        );
        let mut page = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(std::fs::File::open(&written[1]).unwrap()),
            &mut page,
        )
        .unwrap();
        assert!(page.contains(".TH demo-tool 1"), "{page}");
        assert!(page.contains("\\-\\-syslog"), "{page}");
        let bash = std::fs::read_to_string(&written[2]).unwrap();
        assert!(
            bash.contains("--log-file") && bash.contains("add"),
            "{bash}"
        );
    }
}
