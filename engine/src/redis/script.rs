//! A Lua script, sent by its hash and, when Redis does not know it, whole.
//!
//! `EVALSHA` sends only the script's SHA-1; a Redis that has not seen the
//! script (a fresh or restarted server) answers `NOSCRIPT`, and the script
//! goes again as `EVAL`, which also leaves it in Redis's script cache for
//! the next `EVALSHA`. Two commands at most, where the `redis` crate's
//! `ScriptInvocation::invoke` sends three (`EVALSHA`, `SCRIPT LOAD`,
//! `EVALSHA`) and, in a debug build, panics when the hash `SCRIPT LOAD`
//! answers is not the one it computed: a server's answer must not panic
//! the caller.

use redis::{Cmd, ConnectionLike, ErrorKind, FromRedisValue, RedisResult, ServerErrorKind};

/// A Lua script and its SHA-1 (hex, as Redis names scripts).
pub(crate) struct LuaScript {
    code: &'static str,
    hash: String,
}

impl LuaScript {
    pub(crate) fn new(code: &'static str) -> Self {
        LuaScript {
            code,
            hash: redis::Script::new(code).get_hash().to_owned(),
        }
    }

    /// Runs the script with `keys` (its `KEYS`) and `args` (its `ARGV`).
    pub(crate) fn invoke<T: FromRedisValue>(
        &self,
        con: &mut dyn ConnectionLike,
        keys: &[&[u8]],
        args: &[&[u8]],
    ) -> RedisResult<T> {
        match self.command("EVALSHA", &self.hash, keys, args).query(con) {
            Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                self.command("EVAL", self.code, keys, args).query(con)
            }
            answer => answer,
        }
    }

    fn command(&self, name: &str, script: &str, keys: &[&[u8]], args: &[&[u8]]) -> Cmd {
        let mut cmd = redis::cmd(name);
        cmd.arg(script).arg(keys.len()).arg(keys).arg(args);
        cmd
    }
}
