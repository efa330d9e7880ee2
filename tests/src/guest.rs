//! Real guests: QEMU (TCG: this machine has no nested KVM) booting
//! Debian's kernel from `/boot` with a tiny initramfs of our own — busybox
//! and the virtio-net modules of that kernel — and a shell on the serial
//! console that the test drives line by line.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The modules virtio-net needs, in load order, and VMware's vmxnet3.
const MODULES: [&str; 9] = [
    "virtio_ring",
    "virtio",
    "virtio_pci_modern_dev",
    "virtio_pci_legacy_dev",
    "virtio_pci",
    "failover",
    "net_failover",
    "virtio_net",
    "vmxnet3",
];

const INIT: &str = r#"#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /tmp
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover net_failover virtio_net vmxnet3; do
  insmod /lib/modules/$m.ko 2>/dev/null
done
for m in /lib/modules/extra/*.ko; do
  [ -e "$m" ] && insmod "$m"
done
mkdir -p /run
mount -t tmpfs run /run
for a in $(cat /proc/cmdline); do
  case $a in vepa.ip=*) IP=${a#vepa.ip=} ;; vepa.nonet) NONET=1 ;; esac
done
ip link set lo up
if [ -z "$NONET" ]; then
  n=0
  while ! ip link show eth0 >/dev/null 2>&1 && [ $n -lt 50 ]; do sleep 0.1; n=$((n+1)); done
  ip link set eth0 up
  [ -n "$IP" ] && ip addr add $IP dev eth0
fi
echo "VEPA-GUEST-READY"
exec sh
"#;

/// A kernel under `/boot` and its modules directory.
fn kernel() -> Option<(PathBuf, PathBuf)> {
    let mut found: Vec<(PathBuf, PathBuf)> = std::fs::read_dir("/boot")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let ver = name.strip_prefix("vmlinuz-")?.to_string();
            let modules = PathBuf::from(format!("/lib/modules/{ver}"));
            modules.is_dir().then(|| (e.path(), modules))
        })
        .collect();
    found.sort();
    found.pop()
}

/// Appends one entry to a `newc` cpio archive.
fn cpio_entry(out: &mut Vec<u8>, name: &str, mode: u32, data: &[u8]) {
    let fields = [
        0u32,
        mode,
        0,
        0,
        1,
        0,
        data.len() as u32,
        0,
        0,
        0,
        0,
        name.len() as u32 + 1,
        0,
    ];
    out.extend_from_slice(b"070701");
    for (i, f) in fields.iter().enumerate() {
        // The inode number (first field) only has to differ per entry.
        let v = if i == 0 { out.len() as u32 } else { *f };
        out.extend_from_slice(format!("{v:08x}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
    out.extend_from_slice(data);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

/// The initramfs (built once per test process) and the kernel to boot.
pub struct Image {
    pub kernel: PathBuf,
    pub initramfs: PathBuf,
    _dir: tempfile::TempDir,
}

/// Builds the image, or None (with why) when the machine lacks QEMU, a
/// kernel under /boot, busybox-static or a module (the test script
/// installs them).
pub fn image() -> Result<&'static Image, String> {
    static IMAGE: OnceLock<Result<Image, String>> = OnceLock::new();
    IMAGE
        .get_or_init(|| build(&Extra::default()))
        .as_ref()
        .map_err(|e| e.clone())
}

/// What a guest image holds beyond busybox, the virtio modules and iperf3.
#[derive(Default)]
pub struct Extra {
    /// More of the kernel's modules (by name), loaded at boot in this order.
    pub modules: Vec<String>,
    /// Host programs, copied with the libraries they link to the same paths.
    pub programs: Vec<String>,
    /// Files: (path in the guest, contents).
    pub files: Vec<(String, Vec<u8>)>,
}

/// An image of its own with `extra` (built each call).
pub fn image_with(extra: &Extra) -> Result<Image, String> {
    build(extra)
}

/// Appends `path` and the directories above it (not yet in `dirs`).
fn cpio_file(
    cpio: &mut Vec<u8>,
    dirs: &mut std::collections::BTreeSet<String>,
    rel: &str,
    mode: u32,
    data: &[u8],
) {
    let mut parent = Path::new(rel).parent();
    let mut chain = Vec::new();
    while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
        chain.push(p.to_string_lossy().into_owned());
        parent = p.parent();
    }
    for d in chain.into_iter().rev() {
        if dirs.insert(d.clone()) {
            cpio_entry(cpio, &d, 0o040755, &[]);
        }
    }
    cpio_entry(cpio, rel, mode, data);
}

fn build(extra: &Extra) -> Result<Image, String> {
    let (kernel, modules) =
        kernel().ok_or("no /boot/vmlinuz-* with its /lib/modules (linux-image-amd64)")?;
    let busybox = std::fs::read("/bin/busybox").map_err(|e| format!("/bin/busybox: {e}"))?;
    if has_interpreter(&busybox) {
        return Err(
            "/bin/busybox is dynamically linked; the initramfs needs busybox-static".into(),
        );
    }
    let mut cpio = Vec::new();
    let mut dirs = std::collections::BTreeSet::new();
    for d in ["bin", "dev", "proc", "sys", "lib", "lib/modules"] {
        cpio_entry(&mut cpio, d, 0o040755, &[]);
        dirs.insert(d.to_string());
    }
    cpio_entry(&mut cpio, "bin/busybox", 0o100755, &busybox);
    cpio_entry(&mut cpio, "init", 0o100755, INIT.as_bytes());
    for m in MODULES {
        let path =
            find_module(&modules, m).ok_or(format!("module {m} under {}", modules.display()))?;
        let data = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        cpio_entry(&mut cpio, &format!("lib/modules/{m}.ko"), 0o100644, &data);
    }
    for (i, m) in extra.modules.iter().enumerate() {
        let path =
            find_module(&modules, m).ok_or(format!("module {m} under {}", modules.display()))?;
        let data = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        // Numbered, so that the init's glob loads them in the order given.
        let rel = format!("lib/modules/extra/{i:02}-{m}.ko");
        cpio_file(&mut cpio, &mut dirs, &rel, 0o100644, &data);
    }
    // iperf3 (for the benchmark; tests do without it) and the programs
    // asked for, with the libraries they link where their loader looks.
    let mut copied = std::collections::BTreeSet::new();
    for (bin, needed) in std::iter::once(("/usr/bin/iperf3", false))
        .chain(extra.programs.iter().map(|p| (p.as_str(), true)))
    {
        let libs = match libraries(bin) {
            Ok(l) => l,
            Err(e) if needed => return Err(e),
            Err(_) => continue,
        };
        for path in std::iter::once(bin.to_string()).chain(libs) {
            if !copied.insert(path.clone()) {
                continue;
            }
            let data = match read_stripped(&path) {
                Ok(d) => d,
                Err(e) if needed => return Err(format!("{path}: {e}")),
                Err(_) => continue,
            };
            cpio_file(
                &mut cpio,
                &mut dirs,
                path.trim_start_matches('/'),
                0o100755,
                &data,
            );
        }
    }
    for (path, data) in &extra.files {
        cpio_file(
            &mut cpio,
            &mut dirs,
            path.trim_start_matches('/'),
            0o100644,
            data,
        );
    }
    cpio_entry(&mut cpio, "TRAILER!!!", 0, &[]);
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let initramfs = dir.path().join("initramfs.cpio");
    std::fs::write(&initramfs, cpio).map_err(|e| e.to_string())?;
    Ok(Image {
        kernel,
        initramfs,
        _dir: dir,
    })
}

/// A program or library without its debug information (binutils'
/// `strip`, which gcc brings): a release vepa is mostly debug info, and
/// the guest's memory holds its whole initramfs. The file itself if
/// `strip` cannot.
fn read_stripped(path: &str) -> std::io::Result<Vec<u8>> {
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("stripped");
    let ok = Command::new("strip")
        .arg("--strip-debug")
        .arg("-o")
        .arg(&out)
        .arg(path)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        std::fs::read(&out)
    } else {
        std::fs::read(path)
    }
}

/// The shared libraries (and loader) `bin` links, as `ldd` finds them.
fn libraries(bin: &str) -> Result<Vec<String>, String> {
    let out = Command::new("ldd")
        .arg(bin)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("ldd {bin} failed"));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            // "libx.so => /lib/.../libx.so (0x...)" or "/lib64/ld-linux... (0x...)"
            let path = l.split("=>").last()?.split_whitespace().next()?;
            path.starts_with('/').then(|| path.to_string())
        })
        .collect())
}

/// Whether an ELF64 executable asks for a dynamic loader (a PT_INTERP
/// program header).
fn has_interpreter(elf: &[u8]) -> bool {
    let u16_at = |o: usize| {
        elf.get(o..o + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
    };
    let u64_at = |o: usize| {
        elf.get(o..o + 8)
            .and_then(|b| b.try_into().ok())
            .map(|b| u64::from_le_bytes(b) as usize)
    };
    let (Some(phoff), Some(size), Some(count)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38)) else {
        return false;
    };
    (0..count).any(|i| elf.get(phoff + i * size..phoff + i * size + 4) == Some(&[3, 0, 0, 0][..]))
}

fn find_module(dir: &Path, name: &str) -> Option<PathBuf> {
    let want = format!("{name}.ko");
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).ok()?.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|f| f == want.as_str()) {
                return Some(p);
            }
        }
    }
    None
}

/// A running guest: its console's lines arrive on a channel; commands go
/// to its shell.
pub struct Guest {
    pub name: String,
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    /// Everything the console printed so far (for failure messages).
    pub log: Vec<String>,
    seq: u32,
}

impl Guest {
    /// Boots a guest with address `ip` (with prefix length) and the
    /// network arguments `net` (e.g. `vepa vm-args` output, split).
    pub fn boot(name: &str, ip: &str, net: &[String]) -> Guest {
        Guest::boot_in(None, name, ip, net)
    }

    /// QEMU's arguments for a guest at `ip`, but the network's.
    fn base_args(ip: &str) -> Vec<String> {
        let img = image().unwrap_or_else(|e| panic!("guest image: {e}"));
        Guest::args_for(img, "192", ip)
    }

    fn args_for(img: &Image, memory_mib: &str, ip: &str) -> Vec<String> {
        let mut a: Vec<String> = [
            "-machine",
            "accel=tcg",
            "-cpu",
            "max",
            "-m",
            memory_mib,
            "-smp",
            "1",
            "-nodefaults",
            "-no-reboot",
            "-display",
            "none",
            "-serial",
            "stdio",
            "-kernel",
        ]
        .map(String::from)
        .to_vec();
        a.push(img.kernel.display().to_string());
        a.push("-initrd".into());
        a.push(img.initramfs.display().to_string());
        a.push("-append".into());
        a.push(format!("console=ttyS0 quiet panic=-1 vepa.ip={ip}"));
        a
    }

    /// Boots image `img` (see [`image_with`]) with `memory_mib` of memory
    /// and no network: a machine of its own for the test to drive.
    pub fn boot_image(name: &str, img: &Image, memory_mib: u32) -> Guest {
        let mut cmd = Command::new("qemu-system-x86_64");
        let mut args = Guest::args_for(img, &memory_mib.to_string(), "");
        if let Some(a) = args.last_mut() {
            a.push_str(" vepa.nonet");
        }
        cmd.args(args);
        Guest::spawn(name, cmd)
    }

    /// [`Guest::boot`] with QEMU started inside namespace `netns`.
    pub fn boot_in(netns: Option<&str>, name: &str, ip: &str, net: &[String]) -> Guest {
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, "qemu-system-x86_64"]);
                c
            }
            None => Command::new("qemu-system-x86_64"),
        };
        cmd.args(Guest::base_args(ip)).args(net);
        Guest::spawn(name, cmd)
    }

    /// Boots a guest whose network arguments `line` must go through a
    /// shell (`vepa vm-args` of a macvtap ends in a redirection).
    pub fn boot_shell(name: &str, ip: &str, line: &str) -> Guest {
        let quoted: Vec<String> = Guest::base_args(ip)
            .iter()
            .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
            .collect();
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(format!(
            "exec qemu-system-x86_64 {} {line}",
            quoted.join(" ")
        ));
        Guest::spawn(name, cmd)
    }

    fn spawn(name: &str, mut cmd: Command) -> Guest {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start qemu-system-x86_64");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(stdout).split(b'\n').map_while(Result::ok) {
                let l = String::from_utf8_lossy(&l)
                    .trim_end_matches('\r')
                    .to_string();
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Guest {
            name: name.to_string(),
            child,
            stdin,
            lines,
            log: Vec::new(),
            seq: 0,
        }
    }

    /// Waits for a console line containing `what`.
    pub fn wait_for(&mut self, what: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.log.push(l.clone());
                    if l.contains(what) {
                        return Some(l);
                    }
                }
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {
                    return None
                }
            }
        }
    }

    /// Stops the guest and returns what QEMU said on stderr.
    pub fn stop(&mut self) -> String {
        let _ = self.child.kill();
        let mut s = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut s);
        }
        let _ = self.child.wait();
        s
    }

    /// Waits until the guest's network is configured.
    pub fn ready(&mut self, timeout: Duration) {
        if self.wait_for("VEPA-GUEST-READY", timeout).is_none() {
            let err = self
                .child
                .stderr
                .take()
                .map(|mut e| {
                    let _ = self.child.kill();
                    let mut s = String::new();
                    let _ = std::io::Read::read_to_string(&mut e, &mut s);
                    s
                })
                .unwrap_or_default();
            let status = self.child.wait().map(|s| s.to_string()).unwrap_or_default();
            panic!(
                "guest {} did not come up in {timeout:?} (qemu: {status}):\n{}\n{err}",
                self.name,
                self.log.join("\n")
            );
        }
    }

    /// Types the line `line(split)` into the guest's shell, where `split`
    /// is the marker `VEPA-KIND-N` written so that its echo never matches
    /// (a quote pair inside it); returns the marker and the first console
    /// line holding it, or None on timeout.
    fn ask(
        &mut self,
        kind: &str,
        line: impl FnOnce(&str) -> String,
        timeout: Duration,
    ) -> Option<(String, String)> {
        self.seq += 1;
        let marker = format!("VEPA-{kind}-{}", self.seq);
        let (head, tail) = kind.split_at(2);
        let split = format!("VEPA-{head}''{tail}-{}", self.seq);
        self.stdin.write_all(line(&split).as_bytes()).ok()?;
        self.stdin.flush().ok()?;
        let l = self.wait_for(&marker, timeout)?;
        Some((marker, l))
    }

    /// Runs `cmd` in the guest's shell; its exit status, or None on timeout.
    pub fn run(&mut self, cmd: &str, timeout: Duration) -> Option<i32> {
        let (_, l) = self.ask("DONE", |m| format!("{cmd}; echo {m} $?\n"), timeout)?;
        l.rsplit(' ').next()?.trim().parse().ok()
    }

    /// What `cmd` prints (its first line), or None on timeout.
    pub fn value(&mut self, cmd: &str, timeout: Duration) -> Option<String> {
        let (marker, l) = self.ask("VALUE", |m| format!("echo {m} $({cmd})\n"), timeout)?;
        Some(l.split_once(&marker)?.1.trim().to_string()).filter(|_| !l.contains("VEPA-VA''LUE"))
    }

    /// Whether the guest gets an answer from `ip` (two echoes, 1 s each).
    pub fn reaches(&mut self, ip: &str) -> bool {
        self.run(
            &format!("ping -c 2 -W 1 {ip} >/dev/null 2>&1"),
            Duration::from_secs(20),
        ) == Some(0)
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
