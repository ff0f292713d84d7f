//! Sending through one network device (`bind_interface`, for routers with
//! several WANs): a ureq connector that opens the TCP connection itself.
//!
//! ureq's own TCP connector cannot bind a socket before it connects, so
//! [`BoundConnector`] makes every connection of the client itself: it
//! creates the socket with libc and, when a device is set, ties it to the
//! device with `SO_BINDTODEVICE` (or, when that is not permitted, binds it
//! to the device's IPv4 address, so that the source address — and with
//! policy routing such as mwan3's, the WAN — is the device's); then it
//! connects within the timeout and sets `TCP_NODELAY`. One connect path
//! for bound and unbound connections, and ureq's TCP connector is not
//! linked (about 3 KB).
//!
//! Failing to bind is reported as a [`BindError`]: nothing was sent.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Instant;

use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, LazyBuffers, NextTimeout, Transport,
};
use ureq::Timeout;

/// Opens the client's TCP connections, bound to a device when one is set.
#[derive(Debug)]
pub(crate) struct BoundConnector(pub(crate) Option<String>);

impl Connector for BoundConnector {
    type Out = BoundStream;

    fn connect(
        &self,
        details: &ConnectionDetails,
        _chained: Option<()>,
    ) -> Result<Option<BoundStream>, ureq::Error> {
        let device = self.0.as_deref();
        let deadline = details.timeout.not_zero().map(|t| Instant::now() + *t);
        let mut last = None;
        for addr in details.addrs.iter() {
            match connect(device, *addr, deadline) {
                Ok(stream) => {
                    let config = details.config;
                    stream.set_nodelay(config.no_delay())?;
                    let buffers =
                        LazyBuffers::new(config.input_buffer_size(), config.output_buffer_size());
                    // Not registered with `details.register_shutdown`: no
                    // agent of this crate is ever shut down from another thread.
                    return Ok(Some(BoundStream { stream, buffers }));
                }
                // Binding fails the same way for every address.
                Err(e) if is_bind_error(&e) => return Err(e.into()),
                Err(e) => last = Some(e),
            }
        }
        Err(match last {
            Some(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {
                ureq::Error::Timeout(Timeout::Connect)
            }
            Some(e) => e.into(),
            None => ureq::Error::HostNotFound,
        })
    }
}

/// Why a connection could not be bound to the device: nothing was sent.
#[derive(Debug)]
pub(crate) struct BindError(String);

impl std::fmt::Display for BindError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BindError {}

fn is_bind_error(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<BindError>())
}

/// The message of a [`BindError`] inside `e`, if it holds one.
pub(crate) fn bind_refusal(e: &io::Error) -> Option<String> {
    Some(e.get_ref()?.downcast_ref::<BindError>()?.0.clone())
}

fn refused(device: &str, why: impl std::fmt::Display) -> io::Error {
    io::Error::other(BindError(format!(
        "bind_interface: cannot send through {device}: {why}"
    )))
}

/// Connects to `addr` through `device`, giving up at `deadline` (the error
/// is then `EINPROGRESS`, as `connect` reports it).
fn connect(
    device: Option<&str>,
    addr: SocketAddr,
    deadline: Option<Instant>,
) -> io::Result<TcpStream> {
    let family = if addr.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // SAFETY: socket(2) with constant arguments; the descriptor it returns
    // is owned by the OwnedFd at once.
    let fd = unsafe { libc::socket(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor nothing else owns.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    if let Some(device) = device {
        bind_to_device(&socket, device, addr)?;
    }
    let stream = TcpStream::from(socket);
    // A blocking connect gives up after the send timeout (EINPROGRESS).
    if let Some(deadline) = deadline {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::from_raw_os_error(libc::EINPROGRESS));
        }
        stream.set_write_timeout(Some(left))?;
    }
    let (sa, len) = c_addr(addr);
    // SAFETY: `sa` is a socket address of `len` bytes, alive for the call;
    // the descriptor is open.
    let rc = unsafe { libc::connect(stream.as_raw_fd(), (&raw const sa).cast(), len) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(stream)
}

/// Ties `socket` to `device`; where that needs a capability the process
/// lacks, binds it to the device's first IPv4 address instead (so an IPv6
/// server `addr` is then out of reach, and the next address is tried).
fn bind_to_device(socket: &OwnedFd, device: &str, addr: SocketAddr) -> io::Result<()> {
    // SAFETY: the option value is `device`'s bytes, of the length given.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_BINDTODEVICE,
            device.as_ptr().cast(),
            device.len() as libc::socklen_t,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::ENODEV) => return Err(refused(device, "no such device")),
        Some(libc::EPERM) => {}
        _ => return Err(refused(device, e)),
    }
    let own = crate::detect::interface_addresses(device)
        .map_err(|e| refused(device, e))?
        .first()
        .copied()
        .ok_or_else(|| {
            refused(
                device,
                "not permitted to bind to the device and it has no IPv4 address",
            )
        })?;
    if !addr.is_ipv4() {
        return Err(io::ErrorKind::AddrNotAvailable.into());
    }
    let source = SocketAddr::new(IpAddr::V4(own), 0);
    let (sa, len) = c_addr(source);
    // SAFETY: `sa` is a socket address of `len` bytes, alive for the call;
    // the descriptor is open.
    let rc = unsafe { libc::bind(socket.as_raw_fd(), (&raw const sa).cast(), len) };
    if rc != 0 {
        let e = io::Error::last_os_error();
        return Err(refused(device, format_args!("cannot bind to {own}: {e}")));
    }
    Ok(())
}

/// A C socket address of either family.
#[repr(C)]
union CAddr {
    v4: libc::sockaddr_in,
    v6: libc::sockaddr_in6,
}

/// `addr` as a C socket address, and its length.
fn c_addr(addr: SocketAddr) -> (CAddr, libc::socklen_t) {
    match addr {
        SocketAddr::V4(a) => (
            CAddr {
                v4: libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: a.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from(*a.ip()).to_be(),
                    },
                    sin_zero: [0; 8],
                },
            },
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        ),
        SocketAddr::V6(a) => (
            CAddr {
                v6: libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: a.port().to_be(),
                    sin6_flowinfo: a.flowinfo(),
                    sin6_addr: libc::in6_addr {
                        s6_addr: a.ip().octets(),
                    },
                    sin6_scope_id: a.scope_id(),
                },
            },
            std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
        ),
    }
}

/// A TCP connection made by [`BoundConnector`]. Never kept for reuse.
pub(crate) struct BoundStream {
    stream: TcpStream,
    buffers: LazyBuffers,
}

// By hand: the derived one links the formatting of socket addresses.
impl std::fmt::Debug for BoundStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BoundStream")
    }
}

/// The timeout for the next read or write (`None`: none); `Err` when no
/// time is left.
fn time_left(timeout: NextTimeout) -> Result<Option<std::time::Duration>, ureq::Error> {
    if timeout.after.is_zero() {
        return Err(ureq::Error::Timeout(timeout.reason));
    }
    Ok(timeout.not_zero().map(|t| *t))
}

/// Maps an I/O error to ureq's, a timeout to the timeout's reason.
fn io_error(e: io::Error, reason: Timeout) -> ureq::Error {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ureq::Error::Timeout(reason),
        _ => e.into(),
    }
}

impl Transport for BoundStream {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        let timeout = timeout.for_write();
        self.stream.set_write_timeout(time_left(timeout)?)?;
        let output = &self.buffers.output()[..amount];
        self.stream
            .write_all(output)
            .map_err(|e| io_error(e, timeout.reason))
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        let timeout = timeout.for_read();
        self.stream.set_read_timeout(time_left(timeout)?)?;
        let input = self.buffers.input_append_buf();
        let n = loop {
            match self.stream.read(input) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other.map_err(|e| io_error(e, timeout.reason))?,
            }
        };
        self.buffers.input_appended(n);
        Ok(n > 0)
    }

    fn is_open(&mut self) -> bool {
        // Not pooled: each request opens its own bound connection.
        false
    }
}
