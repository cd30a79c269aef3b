//! Running a child process as root without root's file permission overrides, so that a folder
//! with mode 000 is as unreadable to it as it is to any user. The tests run as root, and root
//! reads every folder (`CAP_DAC_OVERRIDE`, `CAP_DAC_READ_SEARCH`): without this, "a folder
//! Hearth cannot read" could not be made real.

use std::process::Command;

/// `CAP_DAC_OVERRIDE` and `CAP_DAC_READ_SEARCH` (linux/capability.h).
const FILE_OVERRIDES: [libc::c_ulong; 2] = [1, 2];

/// Makes `cmd` start without the capabilities that let root ignore file permissions: they are
/// dropped from the child's bounding set before `exec`, so the program run never has them
/// (a root process gets exactly its bounding set at `exec`). Everything else stays: it runs as
/// uid 0, so files that root owns are read through their owner bits.
pub fn without_permission_overrides(cmd: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe; nothing is allocated between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            for cap in FILE_OVERRIDES {
                if libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_mode_000_folder_is_unreadable_to_the_child_only() {
        let dir = tempfile::tempdir().unwrap();
        let locked = dir.path().join("locked");
        std::fs::create_dir(&locked).unwrap();
        std::fs::write(locked.join("f"), b"x").unwrap();
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
        let ls = |drop: bool| {
            let mut cmd = Command::new("ls");
            cmd.arg(&locked).stderr(std::process::Stdio::null());
            if drop {
                without_permission_overrides(&mut cmd);
            }
            cmd.status().unwrap().success()
        };
        assert!(ls(false), "root reads it");
        assert!(!ls(true), "without the overrides it cannot");
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}
