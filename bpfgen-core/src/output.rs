//! Writing the generated code to a path without ever destroying anything.
//!
//! - A regular file (or a path that does not exist yet) is replaced atomically: the
//!   code goes to a temporary file in the same directory, which is then renamed over
//!   it, so a failed run never leaves a truncated file. The new file keeps the old
//!   one's permissions, or gets `0666` less the umask, as `>` in a shell would.
//! - A symbolic link is followed: its target is written (atomically, if it is a
//!   regular file), the link stays.
//! - A character or block device, a FIFO or a socket (`/dev/null`, `/dev/stdout`, a
//!   pipe) is written through, and a failed write (`/dev/full`) is an error.
//! - Refused, with nothing written: the input itself (or the base BTF), a read-only
//!   file, a directory, a path whose directory does not exist.

use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind};

/// Symbolic links followed before giving up (the kernel's limit).
const MAX_LINKS: usize = 40;

/// Writes `contents` to `path` as the module doc says. `inputs`: the files the code was
/// generated from, which are never overwritten.
pub fn write_output(path: &Path, contents: &str, inputs: &[&Path]) -> Result<(), Error> {
    let label = path.display().to_string();
    let refuse = |what: String| ErrorKind::Output {
        path: label.clone(),
        what,
    };
    let io_err = |source: std::io::Error| ErrorKind::Write {
        path: label.clone(),
        source,
    };
    let target = follow_links(path).map_err(|k| k.at(&label))?;
    let meta = match std::fs::metadata(&target) {
        Ok(m) => Some(m),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io_err(e).at(&label)),
    };
    let Some(meta) = meta else {
        return replace(&target, contents, None).map_err(|k| k.at(&label));
    };
    for input in inputs {
        if let Ok(m) = std::fs::metadata(input) {
            if (m.dev(), m.ino()) == (meta.dev(), meta.ino()) {
                return Err(refuse(format!(
                    "it is the input `{}`: refusing to overwrite it",
                    input.display()
                ))
                .at(&label));
            }
        }
    }
    let ft = meta.file_type();
    if ft.is_dir() {
        return Err(refuse("it is a directory".into()).at(&label));
    }
    if ft.is_char_device() || ft.is_block_device() || ft.is_fifo() || ft.is_socket() {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&target)
            .map_err(|e| io_err(e).at(&label))?;
        f.write_all(contents.as_bytes())
            .and_then(|()| f.flush())
            .map_err(|e| io_err(e).at(&label))?;
        return Ok(());
    }
    if meta.permissions().mode() & 0o222 == 0 {
        return Err(refuse(
            "it is read-only: not replacing it (make it writable, or remove it)".into(),
        )
        .at(&label));
    }
    replace(&target, contents, Some(meta.permissions())).map_err(|k| k.at(&label))
}

/// `path` with every symbolic link along its last component followed (a dangling
/// link gives the path it points to, which is then created).
fn follow_links(path: &Path) -> Result<PathBuf, ErrorKind> {
    let mut cur = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match std::fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => {
                let to = std::fs::read_link(&cur).map_err(|source| ErrorKind::Write {
                    path: cur.display().to_string(),
                    source,
                })?;
                cur = match cur.parent() {
                    Some(dir) if to.is_relative() => dir.join(to),
                    _ => to,
                };
            }
            _ => return Ok(cur),
        }
    }
    Err(ErrorKind::Output {
        path: path.display().to_string(),
        what: format!("more than {MAX_LINKS} symbolic links"),
    })
}

/// Atomically replaces (or creates) the regular file `target`.
fn replace(
    target: &Path,
    contents: &str,
    keep: Option<std::fs::Permissions>,
) -> Result<(), ErrorKind> {
    let shown = target.display().to_string();
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(ErrorKind::Output {
            path: shown,
            what: format!("its directory `{}` does not exist", dir.display()),
        });
    }
    let err = |source: std::io::Error| ErrorKind::Write {
        path: shown.clone(),
        source,
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".bpfgen-")
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)
        .map_err(|e| {
            err(std::io::Error::new(
                e.kind(),
                "cannot create a temporary file next to it",
            ))
        })?;
    if let Some(p) = keep {
        tmp.as_file()
            .set_permissions(p)
            .map_err(|e| err(std::io::Error::new(e.kind(), "cannot keep its permissions")))?;
    }
    tmp.write_all(contents.as_bytes()).map_err(err)?;
    tmp.persist(target).map_err(|e| err(e.error))?;
    Ok(())
}
