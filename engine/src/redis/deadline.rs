//! A connection that holds every command to one deadline.
//!
//! An operation can send more than one command: invoking a script sends
//! `EVALSHA` and, when Redis does not know the script yet (after a restart),
//! `EVAL` ([`LuaScript`](super::script::LuaScript)). A socket timeout set
//! once, at checkout, bounds each of those waits by the whole timeout, so
//! the operation could take twice as long. [`Deadlined`] sets the socket
//! timeouts to what is left before each command, and fails a command that
//! starts with nothing left as a timeout. A command's write and its read
//! are each bounded by what was left when it started (a write blocks only
//! when the socket's buffer is full), and a pipeline's replies each by
//! what was left when it was sent; the tier sends no pipelines.

use std::io;
use std::time::{Duration, Instant};

use redis::{Connection, ConnectionLike, RedisResult, Value};

/// What is left before `deadline`; `None` once nothing is.
pub(crate) fn time_left(deadline: Instant) -> Option<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
}

/// A borrowed connection whose commands all end by `deadline`.
pub(crate) struct Deadlined<'a> {
    conn: &'a mut Connection,
    deadline: Instant,
}

impl<'a> Deadlined<'a> {
    pub(crate) fn new(conn: &'a mut Connection, deadline: Instant) -> Self {
        Deadlined { conn, deadline }
    }

    /// Sets the socket timeouts to what is left of the deadline; an error
    /// (a timeout) when nothing is.
    fn arm(&mut self) -> RedisResult<()> {
        let left = time_left(self.deadline).ok_or_else(|| {
            io::Error::new(io::ErrorKind::TimedOut, "the operation's timeout ran out")
        })?;
        self.conn.set_read_timeout(Some(left))?;
        self.conn.set_write_timeout(Some(left))
    }
}

impl ConnectionLike for Deadlined<'_> {
    fn req_packed_command(&mut self, cmd: &[u8]) -> RedisResult<Value> {
        self.arm()?;
        self.conn.req_packed_command(cmd)
    }

    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        offset: usize,
        count: usize,
    ) -> RedisResult<Vec<Value>> {
        self.arm()?;
        self.conn.req_packed_commands(cmd, offset, count)
    }

    fn get_db(&self) -> i64 {
        self.conn.get_db()
    }

    fn supports_pipelining(&self) -> bool {
        self.conn.supports_pipelining()
    }

    fn check_connection(&mut self) -> bool {
        self.arm().is_ok() && self.conn.check_connection()
    }

    fn is_open(&self) -> bool {
        self.conn.is_open()
    }
}
