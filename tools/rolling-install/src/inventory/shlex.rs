//! Words split as Python's `shlex.split` (POSIX mode) splits them: how Ansible reads an INI
//! host line (with comments) and `ansible_ssh_common_args`/`ansible_ssh_extra_args`
//! (without). The words are passed to ssh as separate arguments and never reach a shell.

/// Split `text` into words. Outside quotes a backslash escapes the next character; inside
/// double quotes only `\"` and `\\` are escapes; single quotes are literal. With `comments`,
/// an unquoted `#` ends the line, also in the middle of a word, as in Python's shlex.
pub fn split(text: &str, comments: bool) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '#' if comments => break,
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(next) => word.push(next),
                    None => {
                        return Err(format!("{text:?}: no character after the final backslash"))
                    }
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(q) => word.push(q),
                        None => return Err(format!("{text:?}: no closing quotation")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(e @ ('"' | '\\')) => word.push(e),
                            Some(other) => {
                                word.push('\\');
                                word.push(other);
                            }
                            None => return Err(format!("{text:?}: no closing quotation")),
                        },
                        Some(q) => word.push(q),
                        None => return Err(format!("{text:?}: no closing quotation")),
                    }
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn splits_as_python_shlex() {
        let w = |t: &str, c: bool| split(t, c).unwrap();
        assert_eq!(w("a b  c", false), ["a", "b", "c"]);
        assert_eq!(
            w("-o 'ProxyCommand=ssh -W %h:%p -q bastion'", false),
            ["-o", "ProxyCommand=ssh -W %h:%p -q bastion"]
        );
        assert_eq!(
            w(r#"-o ProxyCommand="ssh -W %h:%p \"b\"""#, false),
            ["-o", r#"ProxyCommand=ssh -W %h:%p "b""#]
        );
        assert_eq!(w(r"a\ b c", false), ["a b", "c"]);
        assert_eq!(w("h1 x=1 # note", true), ["h1", "x=1"]);
        assert_eq!(w("h1 pw=ab#cd", true), ["h1", "pw=ab"]);
        assert_eq!(w("h1 pw='ab#cd'", true), ["h1", "pw=ab#cd"]);
        assert_eq!(w("a#b", false), ["a#b"]);
        assert_eq!(w("''", false), [""]);
        assert!(split("'open", false).is_err());
        assert!(split("trailing\\", false).is_err());
    }
}
