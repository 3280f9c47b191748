//! cdkit-deb: Debian packages for the cdkit tools. A streaming, reproducible `.deb` writer, a
//! bounded reader, and Debian's rules for package names, versions and relations. It is its
//! own crate so that the tools that never write or read a package (run-tests, db-migrate) do
//! not link the compressors.
//!
//! # Brief overview
//!
//! * Writing: describe a package as a [`Package`] (control fields, maintainer scripts,
//!   conffiles and [`DataEntry`]s of kind [`EntryKind`], compressed per [`Compression`]) and
//!   hand it to [`write_deb`] (or [`write_deb_with`] and [`WriteOptions`]); it returns what was
//!   [`Written`] or a [`DebError`] naming the input at fault. [`control_text`] renders
//!   control fields exactly as the writer does (the tests hold it against dpkg's output).
//! * Reading: [`read_deb`] returns a package file's [`DebInfo`] (control paragraph, size and
//!   digests, what an APT index lists) or a [`ReadError`]; [`reader`] also has the deb822
//!   paragraph parser it uses.
//! * Policy: [`policy`] validates package names, versions and relation fields before they
//!   reach paths and commands, and orders versions as dpkg does ([`policy::Version`],
//!   [`policy::CiVersion`] for the versions CI builds get).
//!
//! # Why a writer of its own
//!
//! build-deb needs packages that dpkg, apt and lintian accept, that are byte-identical when
//! rebuilt from the same input (so a rebuild can be verified by its sha256), and that are
//! written quickly and in bounded memory even for large payloads. `dpkg-deb --build` meets
//! the first two but needs a staging tree with the final owners and modes (root, or
//! fakeroot) and compresses gzip on one core; this writer takes a list of entries with
//! per-entry owners and modes instead, streams every file once (md5 computed on the way),
//! and compresses on all cores without making the output depend on the core count.
//!
//! # What is written
//!
//! The layout `dpkg-deb --build` writes: an ar archive in the common format
//! with `debian-binary` (`2.0\n`), `control.tar.gz` (always gzip -9, which every dpkg and
//! lintian reads) and `data.tar[.gz|.xz|.zst]`. The tar members are GNU format with
//! `./`-prefixed names in tree order (parents first, siblings in byte order), directories
//! as their own entries with a trailing `/`, and every entry's mtime set to
//! [`Package::mtime`] (`SOURCE_DATE_EPOCH`). For a tree without symlinks the data member is
//! byte-identical to what `dpkg-deb --build --root-owner-group` writes from the same files
//! (checked by the tests, and for xz even compressed); dpkg-deb moves symlinks to the end of
//! the tar, this writer keeps plain tree order, which dpkg does not mind.
//!
//! `Installed-Size` is computed as dpkg-gencontrol computes it over an unpacked tree
//! (`scripts/dpkg-gencontrol.pl`): `ceil(size / 1024)` per regular file, `ceil(len(target) /
//! 1024)` per symlink (1 for any target up to 1 KiB), 1 per directory including `./`.
//! dpkg-gencontrol would also count a `DEBIAN/` directory and its files if present; those
//! are not installed, so they are not counted here.
//!
//! Private submodules, one job each: `compression` (the setting and its parser), `gzip` and
//! `pool` (block-parallel deterministic gzip), `encoder` (the data compressor), `tar_stream`
//! (tar headers), `entries` (path checks and tree order), `control` (control file, md5sums,
//! control.tar), `data` (streaming the payload), `ar_file` (the final atomic assembly),
//! `writer` (the order of the steps), `error` (the writer's error).

mod ar_file;
mod compression;
mod control;
mod data;
mod encoder;
mod entries;
mod error;
mod gzip;
pub mod policy;
mod pool;
pub mod reader;
mod tar_stream;
mod writer;

use std::path::PathBuf;

pub use compression::{Compression, ParseCompressionError};
pub use control::control_text;
pub use error::DebError;
pub use reader::{read_deb, DebInfo, ReadError};
pub use writer::{write_deb, write_deb_with};

/// What a data entry is. Hard links and device nodes are not supported: in-house service
/// packages do not need them, and dpkg-deb users rarely get them right.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file whose content is streamed from `source` (read once, in chunks). The
    /// source's own mode, owner and mtime are ignored: the entry's fields decide.
    File {
        /// The file on this machine; it must not change size while the package is written.
        source: PathBuf,
    },
    /// A directory.
    Dir,
    /// A symbolic link to `target` (relative or absolute, stored as given). Its mode is
    /// always written as `0777`, as GNU tar and dpkg-deb do: Linux has no symlink modes.
    Symlink {
        /// Where the link points, stored byte for byte.
        target: String,
    },
}

/// One filesystem object of the installed package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataEntry {
    /// Absolute path in the installed system, like `/usr/bin/hello`. Rejected when empty,
    /// relative, or containing `..`, `.`, `//`, NUL or a line break (md5sums and conffiles
    /// are line-based). A directory may be given with one trailing `/`.
    pub path: String,
    /// File, directory or symlink.
    pub kind: EntryKind,
    /// Permission bits including setuid/setgid/sticky (`0o4755`); nothing above `0o7777`.
    pub mode: u32,
    /// Owner name stored in the tar header; dpkg resolves it on the target system first.
    pub owner: String,
    /// Group name stored in the tar header.
    pub group: String,
    /// Numeric owner, used by dpkg when the name is unknown on the target system.
    pub uid: u64,
    /// Numeric group.
    pub gid: u64,
}

impl DataEntry {
    /// A regular file owned by root:root.
    pub fn file(path: impl Into<String>, source: impl Into<PathBuf>, mode: u32) -> Self {
        Self::root_owned(
            path,
            EntryKind::File {
                source: source.into(),
            },
            mode,
        )
    }

    /// A directory owned by root:root.
    pub fn dir(path: impl Into<String>, mode: u32) -> Self {
        Self::root_owned(path, EntryKind::Dir, mode)
    }

    /// A symlink owned by root:root.
    pub fn symlink(path: impl Into<String>, target: impl Into<String>) -> Self {
        Self::root_owned(
            path,
            EntryKind::Symlink {
                target: target.into(),
            },
            0o777,
        )
    }

    /// The same entry owned by `owner:group` (`uid:gid`).
    pub fn owned_by(mut self, owner: &str, uid: u64, group: &str, gid: u64) -> Self {
        self.owner = owner.to_string();
        self.group = group.to_string();
        self.uid = uid;
        self.gid = gid;
        self
    }

    fn root_owned(path: impl Into<String>, kind: EntryKind, mode: u32) -> Self {
        DataEntry {
            path: path.into(),
            kind,
            mode,
            owner: "root".to_string(),
            group: "root".to_string(),
            uid: 0,
            gid: 0,
        }
    }
}

/// Everything a binary package consists of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// Control fields in order (Package, Version, Architecture, Maintainer, …, Description).
    /// Package, Version, Architecture, Maintainer and Description are required. The writer
    /// adds `Installed-Size` itself, after `Architecture`; a value passed here is replaced
    /// by the computed one (it can only be wrong).
    pub control: Vec<(String, String)>,
    /// Absolute paths of regular files in `entries` that dpkg must treat as configuration
    /// (kept on upgrade when edited). Written to `conffiles` only if non-empty, because an
    /// empty `conffiles` file breaks some tools.
    pub conffiles: Vec<String>,
    /// Maintainer scripts and other control members: `preinst`, `postinst`, `prerm`,
    /// `postrm`, `config` (mode 0755) and `triggers`, `templates`, `shlibs`, `symbols`
    /// (mode 0644, as lintian requires). Other names are rejected, to catch typos.
    pub scripts: Vec<(String, Vec<u8>)>,
    /// The payload, in any order: the writer sorts it and adds missing parent directories
    /// (root:root 0755).
    pub entries: Vec<DataEntry>,
    /// `SOURCE_DATE_EPOCH`: the mtime of every tar entry and ar member.
    pub mtime: u64,
    /// Compression of data.tar; control.tar is always gzip -9.
    pub compression: Compression,
}

/// What was written, for logs, JUnit properties and repository indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The .deb's path (as passed in).
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// Lowercase hex sha256 of the whole .deb, computed while writing it.
    pub sha256: String,
    /// The `Installed-Size` written into the control file, in KiB (see the module doc).
    pub installed_size_kib: u64,
    /// Number of regular files (the lines of md5sums).
    pub files: usize,
    /// Number of data.tar entries, including directories (and `./`) and symlinks.
    pub entries: usize,
}

/// Knobs that change speed, never the bytes written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// Compression threads; 0 means the machine's available parallelism.
    pub threads: usize,
}
