//! Reading input files with bounds: only regular files (a FIFO would block forever, a
//! device such as `/dev/zero` never ends), and at most [`MAX_INPUT`] bytes, however
//! large the file claims to be.

use std::io::Read;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use crate::error::ErrorKind;

/// The largest input read: 16 times the BTF of a large kernel (vmlinux is 5–8 MB; a
/// BPF object rarely reaches 1 MB).
pub const MAX_INPUT: u64 = 128 << 20;

/// The bytes of the regular file `path` (symbolic links followed).
pub fn read_bounded(path: &Path) -> Result<Vec<u8>, ErrorKind> {
    let meta = std::fs::metadata(path)?;
    let ft = meta.file_type();
    if !ft.is_file() {
        let what = if ft.is_dir() {
            "a directory"
        } else if ft.is_fifo() {
            "a FIFO"
        } else if ft.is_char_device() {
            "a character device"
        } else if ft.is_block_device() {
            "a block device"
        } else if ft.is_socket() {
            "a socket"
        } else {
            "not a regular file"
        };
        return Err(ErrorKind::NotAFile { what });
    }
    if meta.len() > MAX_INPUT {
        return Err(ErrorKind::TooLarge {
            size: meta.len(),
            limit: MAX_INPUT,
        });
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path)?
        .take(MAX_INPUT + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_INPUT {
        return Err(ErrorKind::TooLarge {
            size: bytes.len() as u64,
            limit: MAX_INPUT,
        });
    }
    Ok(bytes)
}
