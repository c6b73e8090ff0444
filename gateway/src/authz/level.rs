//! Access levels (§6.7): the ACL scale NONE 0, READ 10, READ_WRITE 20,
//! MANAGE 30, ADMIN 40, SUPERADMIN 50, and the `AccessLevel` enum (1..6)
//! that authority requests use for the same levels.

use aether_protocol::proto::AccessLevel;

/// A level on the ACL scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub(crate) struct Level(i32);

impl Level {
    pub(crate) const NONE: Level = Level(0);
    pub(crate) const READ: Level = Level(10);
    pub(crate) const READ_WRITE: Level = Level(20);
    pub(crate) const MANAGE: Level = Level(30);
    pub(crate) const ADMIN: Level = Level(40);
    pub(crate) const SUPERADMIN: Level = Level(50);

    /// A level from the wire's int32 ACL scale: 0..=50 in steps of 10.
    pub(crate) fn from_wire(n: i32) -> Result<Level, String> {
        if (0..=50).contains(&n) && n % 10 == 0 {
            Ok(Level(n))
        } else {
            Err(format!(
                "invalid access level {n}: use 0, 10, 20, 30, 40 or 50"
            ))
        }
    }

    /// A required level from the wire, where anything in between rounds up
    /// (a check for 15 needs READ_WRITE); negative is NONE, above 50 is
    /// SUPERADMIN.
    pub(crate) fn required(n: i32) -> Level {
        Level(((n.clamp(0, 50) + 9) / 10) * 10)
    }

    /// The level of an `AccessLevel` enum value (UNSPECIFIED is NONE).
    pub(crate) fn from_enum(v: i32) -> Level {
        match AccessLevel::try_from(v) {
            Ok(AccessLevel::Read) => Level::READ,
            Ok(AccessLevel::Readwrite) => Level::READ_WRITE,
            Ok(AccessLevel::Manage) => Level::MANAGE,
            Ok(AccessLevel::Admin) => Level::ADMIN,
            Ok(AccessLevel::Superadmin) => Level::SUPERADMIN,
            _ => Level::NONE,
        }
    }

    /// This level as an `AccessLevel` enum value.
    #[cfg(test)]
    pub(crate) fn to_enum(self) -> AccessLevel {
        match self.0 {
            10 => AccessLevel::Read,
            20 => AccessLevel::Readwrite,
            30 => AccessLevel::Manage,
            40 => AccessLevel::Admin,
            50 => AccessLevel::Superadmin,
            _ => AccessLevel::None,
        }
    }

    /// The wire value.
    pub(crate) fn get(self) -> i32 {
        self.0
    }

    /// Upstream's name of the level.
    pub(crate) fn name(self) -> &'static str {
        match self.0 {
            0 => "NONE",
            10 => "READ",
            20 => "READWRITE",
            30 => "MANAGE",
            40 => "ADMIN",
            50 => "SUPERADMIN",
            _ => "UNKNOWN",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales() {
        assert_eq!(Level::from_wire(20), Ok(Level::READ_WRITE));
        assert!(Level::from_wire(15).is_err());
        assert!(Level::from_wire(60).is_err());
        assert!(Level::from_wire(-10).is_err());
        assert_eq!(Level::required(15), Level::READ_WRITE);
        assert_eq!(Level::required(-3), Level::NONE);
        assert_eq!(Level::required(99), Level::SUPERADMIN);
        for l in [0, 10, 20, 30, 40, 50] {
            let level = Level(l);
            assert_eq!(Level::from_enum(level.to_enum() as i32), level);
        }
        assert_eq!(Level::from_enum(0), Level::NONE);
        assert_eq!(Level::READ_WRITE.name(), "READWRITE");
    }
}
