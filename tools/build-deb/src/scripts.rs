//! Maintainer scripts for manifest builds: the systemd snippets dh_installsystemd writes
//! (enable on install, start, restart after upgrade, stop on removal, purge state), merged
//! into the user's scripts at their `#DEBHELPER#` line as debhelper does.
//!
//! Unlike debhelper on Debian 12, every snippet that talks to the running systemd is guarded
//! by `DPKG_ROOT`, so an install into a scratch root never touches the host's services.

use std::path::Path;

use crate::error::{io, Error};
use crate::manifest::{Manifest, Systemd};

/// The token in a user's script replaced with the generated snippets.
pub const TOKEN: &str = "#DEBHELPER#";

const ACTIONS: &str = r#"[ "$1" = "configure" ] || [ "$1" = "abort-upgrade" ] || [ "$1" = "abort-deconfigure" ] || [ "$1" = "abort-remove" ]"#;

/// Generated snippets per maintainer script.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Snippets {
    pub preinst: String,
    pub postinst: String,
    pub prerm: String,
    pub postrm: String,
}

/// The snippets for `systemd` with unit file names `units`.
pub fn systemd_snippets(systemd: &Systemd, units: &[String]) -> Snippets {
    let mut s = Snippets::default();
    if units.is_empty() {
        return s;
    }
    let all = units.join(" ");
    for unit in units {
        if systemd.enable {
            s.postinst.push_str(&format!(
                "if {ACTIONS} ; then\n\
                 \tdeb-systemd-helper unmask {unit} >/dev/null || true\n\
                 \tif deb-systemd-helper --quiet was-enabled {unit}; then\n\
                 \t\tdeb-systemd-helper enable {unit} >/dev/null || true\n\
                 \telse\n\
                 \t\tdeb-systemd-helper update-state {unit} >/dev/null || true\n\
                 \tfi\n\
                 fi\n"
            ));
        } else {
            s.postinst.push_str(&format!(
                "if {ACTIONS} ; then\n\
                 \tdeb-systemd-helper update-state {unit} >/dev/null || true\n\
                 fi\n"
            ));
        }
    }
    if systemd.start {
        if systemd.restart_after_upgrade {
            s.postinst.push_str(&format!(
                "if {ACTIONS} ; then\n\
                 \tif [ -z \"${{DPKG_ROOT:-}}\" ] && [ -d /run/systemd/system ]; then\n\
                 \t\tsystemctl --system daemon-reload >/dev/null || true\n\
                 \t\tif [ -n \"$2\" ]; then _cdkit_action=restart; else _cdkit_action=start; fi\n\
                 \t\tdeb-systemd-invoke $_cdkit_action {all} >/dev/null || true\n\
                 \tfi\n\
                 fi\n"
            ));
            s.prerm.push_str(&format!(
                "if [ -z \"${{DPKG_ROOT:-}}\" ] && [ \"$1\" = remove ] && [ -d /run/systemd/system ] ; then\n\
                 \tdeb-systemd-invoke stop {all} >/dev/null || true\n\
                 fi\n"
            ));
        } else {
            s.postinst.push_str(&format!(
                "if {ACTIONS} ; then\n\
                 \tif [ -z \"${{DPKG_ROOT:-}}\" ] && [ -d /run/systemd/system ]; then\n\
                 \t\tsystemctl --system daemon-reload >/dev/null || true\n\
                 \t\tdeb-systemd-invoke start {all} >/dev/null || true\n\
                 \tfi\n\
                 fi\n"
            ));
            s.prerm.push_str(&format!(
                "if [ -z \"${{DPKG_ROOT:-}}\" ] && [ -d /run/systemd/system ]; then\n\
                 \tdeb-systemd-invoke stop {all} >/dev/null || true\n\
                 fi\n"
            ));
        }
    }
    s.postrm.push_str(&format!(
        "if [ -z \"${{DPKG_ROOT:-}}\" ] && [ -d /run/systemd/system ]; then\n\
         \tsystemctl --system daemon-reload >/dev/null || true\n\
         fi\n\
         if [ \"$1\" = \"purge\" ]; then\n\
         \tif [ -x \"/usr/bin/deb-systemd-helper\" ]; then\n\
         \t\tdeb-systemd-helper purge {all} >/dev/null || true\n\
         \tfi\n\
         fi\n"
    ));
    s
}

/// The final maintainer scripts: the user's (from the manifest) with snippets at
/// `#DEBHELPER#`, or generated ones; empty scripts are not shipped.
pub fn assemble(
    manifest: &Manifest,
    base: &Path,
    snippets: &Snippets,
) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let user = [
        ("preinst", &manifest.scripts.preinst, &snippets.preinst),
        ("postinst", &manifest.scripts.postinst, &snippets.postinst),
        ("prerm", &manifest.scripts.prerm, &snippets.prerm),
        ("postrm", &manifest.scripts.postrm, &snippets.postrm),
    ];
    let mut scripts = Vec::new();
    for (name, path, generated) in user {
        let block = if generated.is_empty() {
            String::new()
        } else {
            format!("# Automatically added by build-deb\n{generated}# End automatically added section\n")
        };
        let text = match path {
            Some(rel) => {
                let file = base.join(rel);
                let text = std::fs::read_to_string(&file).map_err(io("read", &file))?;
                if !text.starts_with("#!") {
                    return Err(Error::Manifest {
                        path: file,
                        message: format!("scripts.{name} must start with a #! line"),
                    });
                }
                if text.contains(TOKEN) {
                    text.replace(TOKEN, block.trim_end())
                } else if block.is_empty() {
                    text
                } else {
                    return Err(Error::Manifest {
                        path: file,
                        message: format!(
                            "scripts.{name} has no {TOKEN} line, where build-deb must put the systemd snippets"
                        ),
                    });
                }
            }
            None if block.is_empty() => continue,
            None => format!("#!/bin/sh\nset -e\n\n{block}\nexit 0\n"),
        };
        scripts.push((name.to_string(), text.into_bytes()));
    }
    Ok(scripts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn systemd(enable: bool, start: bool, restart: bool) -> Systemd {
        Systemd {
            units: vec!["app.service".into()],
            enable,
            start,
            restart_after_upgrade: restart,
        }
    }

    #[test]
    fn default_snippets_enable_restart_and_stop_only_on_remove() {
        let s = systemd_snippets(&systemd(true, true, true), &["app.service".into()]);
        assert!(s.postinst.contains("deb-systemd-helper enable app.service"));
        assert!(s.postinst.contains("_cdkit_action=restart"));
        assert!(s.prerm.contains("\"$1\" = remove"));
        assert!(s.postrm.contains("deb-systemd-helper purge app.service"));
        assert!(s.preinst.is_empty());
        // Everything that talks to a running systemd is skipped in a scratch root.
        for block in [&s.postinst, &s.prerm] {
            for line in block.lines().filter(|l| l.contains("deb-systemd-invoke")) {
                assert!(block.contains("DPKG_ROOT"), "{line}");
            }
        }
    }

    #[test]
    fn no_restart_stops_in_prerm_and_starts_in_postinst() {
        let s = systemd_snippets(&systemd(false, true, false), &["app.service".into()]);
        assert!(!s.postinst.contains("enable app.service"));
        assert!(s.postinst.contains("deb-systemd-invoke start app.service"));
        assert!(s.prerm.contains("deb-systemd-invoke stop app.service"));
        let none = systemd_snippets(&systemd(true, false, true), &["app.service".into()]);
        assert!(none.prerm.is_empty() && !none.postinst.contains("invoke"));
    }

    #[test]
    fn generated_scripts_are_valid_shell() {
        let s = systemd_snippets(
            &systemd(true, true, true),
            &["a.service".into(), "b.timer".into()],
        );
        for text in [&s.postinst, &s.prerm, &s.postrm] {
            let script = format!("#!/bin/sh\nset -e\n{text}exit 0\n");
            let ok = std::process::Command::new("sh")
                .args(["-n", "-c", &script])
                .status()
                .unwrap();
            assert!(ok.success(), "{script}");
        }
    }
}
