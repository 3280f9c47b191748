//! The shell steps of a declarative Jenkinsfile, in order, with what Jenkins would wrap them
//! in (bound credentials, `post { unsuccessful }`), so that a test can run the steps of
//! `Jenkinsfile.example` against the testbed and the example cannot rot.
//!
//! This is not a Groovy parser: it understands the handful of forms the example uses, one per
//! line, and refuses a line that mentions `sh` in any other form, so that a new kind of step
//! fails the test instead of being skipped.

use std::collections::BTreeMap;

/// How Jenkins runs a shell step, and what the pipeline does with its result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Run {
    /// `sh '...'`: a non-zero status fails the build.
    Plain,
    /// `env.NAME = sh(returnStdout: true, script: '...').trim()`.
    Stdout(String),
    /// `def rc = sh(returnStatus: true, script: '...')`: the pipeline looks at the status.
    Status,
}

/// One thing the pipeline does, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// An `sh` step: its script, and how the pipeline runs it.
    Sh {
        /// The script, as Groovy hands it to sh.
        script: String,
        /// How the pipeline runs it: status checked, stdout kept, or status returned.
        run: Run,
    },
    /// `env.NAME = 'value'` inside a `script { }` block.
    SetEnv {
        /// The variable.
        name: String,
        /// Its value, with `${env.NAME}` left for the runner to expand.
        value: String,
    },
}

/// A step with its context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The Jenkinsfile line the step starts on, for messages.
    pub line: usize,
    /// What the step does.
    pub action: Action,
    /// (credentialsId, variable) of every enclosing `withCredentials`; an id may contain
    /// `${env.NAME}`.
    pub credentials: Vec<(String, String)>,
    /// Inside `post { unsuccessful { } }` (or `failure`): runs only when the build failed.
    pub on_failure: bool,
}

/// The pipeline's top-level `environment { }` and its steps.
#[derive(Debug, Default)]
pub struct Pipeline {
    /// The top-level `environment { }` variables.
    pub environment: BTreeMap<String, String>,
    /// Every step in file order.
    pub steps: Vec<Step>,
}

enum Frame {
    Environment,
    Credentials(Vec<(String, String)>),
    OnFailure,
    Other,
}

/// Reads the steps of `text`; an error names the line it could not understand.
pub fn parse(text: &str) -> Result<Pipeline, String> {
    let mut pipeline = Pipeline::default();
    // (depth at which the frame's block is open, frame)
    let mut frames: Vec<(usize, Frame)> = Vec::new();
    let mut depth = 0usize;
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = strip_comment(raw);
        let trimmed = line.trim();
        let in_environment = matches!(frames.last(), Some((_, Frame::Environment)));
        if in_environment && braces(&line) == 0 && trimmed.contains(" = ") {
            let (name, value) = trimmed.split_once('=').unwrap_or_default();
            let value = single_quoted(value.trim())
                .ok_or_else(|| format!("line {line_no}: environment values must be '...'"))?;
            pipeline
                .environment
                .insert(name.trim().to_string(), value.to_string());
        } else if let Some(action) = action(trimmed).map_err(|e| format!("line {line_no}: {e}"))? {
            pipeline.steps.push(Step {
                line: line_no,
                action,
                credentials: frames
                    .iter()
                    .filter_map(|(_, f)| match f {
                        Frame::Credentials(c) => Some(c.clone()),
                        _ => None,
                    })
                    .flatten()
                    .collect(),
                on_failure: frames.iter().any(|(_, f)| matches!(f, Frame::OnFailure)),
            });
        }
        if trimmed.starts_with("withCredentials(") && !trimmed.ends_with('{') {
            return Err(format!(
                "line {line_no}: keep a withCredentials([...]) {{ on one line (this reader binds its credentials per line)"
            ));
        }
        let opens = braces(&line);
        let before = depth;
        depth = (depth as isize + opens).max(0) as usize;
        if depth > before {
            let frame = if trimmed.starts_with("environment {") && frames.len() <= 1 {
                Frame::Environment
            } else if trimmed.starts_with("withCredentials(") {
                Frame::Credentials(credentials(trimmed))
            } else if trimmed.starts_with("unsuccessful {") || trimmed.starts_with("failure {") {
                Frame::OnFailure
            } else {
                Frame::Other
            };
            frames.push((depth, frame));
        }
        while matches!(frames.last(), Some((d, _)) if *d > depth) {
            frames.pop();
        }
    }
    Ok(pipeline)
}

/// The action on a line, if it has one; an error for a shell step in a form not understood.
fn action(line: &str) -> Result<Option<Action>, String> {
    if let Some(rest) = line.strip_prefix("sh '") {
        let script = rest
            .strip_suffix('\'')
            .ok_or("a sh step must be one '...' string on one line")?;
        return Ok(Some(Action::Sh {
            script: script.to_string(),
            run: Run::Plain,
        }));
    }
    if line.contains("sh(") {
        let script = after(line, "script: '")
            .and_then(|s| s.split_once('\''))
            .map(|(s, _)| s.to_string())
            .ok_or("sh(...) needs script: '...'")?;
        let run = if line.contains("returnStatus: true") {
            Run::Status
        } else if line.contains("returnStdout: true") {
            let name = after(line, "env.")
                .and_then(|s| s.split_once(" = sh("))
                .map(|(n, _)| n.to_string())
                .ok_or("returnStdout needs `env.NAME = sh(...)`")?;
            Run::Stdout(name)
        } else {
            return Err("sh(...) without returnStatus or returnStdout".into());
        };
        return Ok(Some(Action::Sh { script, run }));
    }
    if line.contains("sh ") && !line.starts_with("//") && line.split_whitespace().any(|w| w == "sh")
    {
        return Err(format!(
            "a sh step in a form this reader does not know: {line}"
        ));
    }
    // `script { env.NAME = 'value' }`
    if let Some(rest) = after(line, "env.") {
        if let Some((name, value)) = rest.split_once(" = '") {
            if let Some((value, _)) = value.split_once('\'') {
                if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Ok(Some(Action::SetEnv {
                        name: name.to_string(),
                        value: value.to_string(),
                    }));
                }
            }
        }
    }
    Ok(None)
}

fn after<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    line.find(marker).map(|i| &line[i + marker.len()..])
}

fn single_quoted(value: &str) -> Option<&str> {
    value.strip_prefix('\'')?.strip_suffix('\'')
}

/// (credentialsId, variable) pairs of a `withCredentials([...])` line.
fn credentials(line: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(tail) = after(rest, "credentialsId: ") {
        let Some((id, tail)) = quoted(tail) else {
            break;
        };
        let Some(var_tail) = after(tail, "variable: ") else {
            break;
        };
        let Some((variable, tail)) = quoted(var_tail) else {
            break;
        };
        found.push((id.to_string(), variable.to_string()));
        rest = tail;
    }
    found
}

/// A leading '...' or "..." string and what follows it.
fn quoted(text: &str) -> Option<(&str, &str)> {
    let quote = text.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let body = &text[1..];
    let end = body.find(quote)?;
    Some((&body[..end], &body[end + 1..]))
}

/// The line without a `//` comment outside quotes.
fn strip_comment(line: &str) -> String {
    let mut quote: Option<char> = None;
    let chars: Vec<char> = line.chars().collect();
    for i in 0..chars.len() {
        let c = chars[i];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '/' && chars.get(i + 1) == Some(&'/') => {
                return chars[..i].iter().collect();
            }
            None => {}
        }
    }
    line.to_string()
}

/// Opened minus closed braces outside quotes (`${...}` inside a string does not count).
fn braces(line: &str) -> isize {
    let mut quote: Option<char> = None;
    let mut n = 0;
    for c in line.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '{' => n += 1,
            None if c == '}' => n -= 1,
            None => {}
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
pipeline {
  environment {
    A = 'one'   // a comment
    U = 'http://{host}/'
  }
  stages {
    stage('x') {
      steps {
        sh 'echo "$A" > out'
        script {
          env.V = sh(returnStdout: true, script: 'cat out').trim()
          def rc = sh(returnStatus: true, script: 'test -s out')
          env.T = 'testing'
        }
        withCredentials([string(credentialsId: 'db-x', variable: 'URL'), file(credentialsId: "k-${env.T}", variable: 'K')]) {
          sh 'use "$URL"'
        }
        sh 'after'
      }
    }
  }
  post {
    unsuccessful {
      script {
        sh 'undo'
      }
    }
  }
}
"#;

    #[test]
    fn reads_steps_credentials_and_post() {
        let p = parse(SAMPLE).unwrap();
        assert_eq!(p.environment.get("A").map(String::as_str), Some("one"));
        assert_eq!(
            p.environment.get("U").map(String::as_str),
            Some("http://{host}/")
        );
        let kinds: Vec<String> = p
            .steps
            .iter()
            .map(|s| match &s.action {
                Action::Sh { script, run } => {
                    format!("{run:?} {script} {:?} {}", s.credentials, s.on_failure)
                }
                Action::SetEnv { name, value } => format!("set {name}={value}"),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "Plain echo \"$A\" > out [] false",
                "Stdout(\"V\") cat out [] false",
                "Status test -s out [] false",
                "set T=testing",
                "Plain use \"$URL\" [(\"db-x\", \"URL\"), (\"k-${env.T}\", \"K\")] false",
                "Plain after [] false",
            ]
            .iter()
            .map(|s| s.to_string())
            .chain(std::iter::once("Plain undo [] true".to_string()))
            .collect::<Vec<_>>()
        );
    }

    #[test]
    fn an_unknown_sh_form_is_an_error_naming_the_line() {
        let err = parse("steps {\n  sh \"echo $X\"\n}\n").unwrap_err();
        assert!(err.starts_with("line 2:"), "{err}");
    }
}

#[cfg(test)]
mod example {
    /// The example parses, and every stage of the pipeline has its shell step.
    #[test]
    fn jenkinsfile_example_has_every_stage() {
        let text =
            std::fs::read_to_string(cdkit_testkit::workspace_root().join("Jenkinsfile.example"))
                .expect("read Jenkinsfile.example");
        let pipeline = super::parse(&text).expect("Jenkinsfile.example parses");
        let scripts: Vec<String> = pipeline
            .steps
            .iter()
            .filter_map(|s| match &s.action {
                super::Action::Sh { script, .. } => Some(script.clone()),
                super::Action::SetEnv { .. } => None,
            })
            .collect();
        eprintln!("{scripts:#?}");
        let order = [
            "build-deb",
            "run-tests --config tests.toml --suite unit",
            "publish-repo add --suite testing",
            "db-migrate",
            "rolling-install --group testing",
            "--suite acceptance",
            "publish-repo promote",
            "db-migrate",
            "rolling-install --group production",
            "rollback --record",
        ];
        let mut at = 0;
        for tool in order {
            let found = scripts[at..]
                .iter()
                .position(|s| s.contains(tool))
                .unwrap_or_else(|| panic!("no `{tool}` step after step {at}"));
            at += found + 1;
        }
        assert!(
            pipeline.steps.last().unwrap().on_failure,
            "rollback runs on failure"
        );
        assert_eq!(
            pipeline
                .environment
                .get("ROLLING_INSTALL_HEALTH_URL")
                .map(String::as_str),
            Some("http://{host}:8080/health"),
            "a value with braces inside its quotes is read too"
        );
    }
}
