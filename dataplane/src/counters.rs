//! One macro declares every set of named counters (drop reasons, CSN and
//! slow-path counters), like VPP's error-counter lists: each value once,
//! with the name it has in the stats JSON and /metrics and a one-line
//! description; the hot path only sets a one-byte value.

/// Declares a `#[repr(u8)]` enum of counters with `ALL`, `COUNT`,
/// `name()`, `description()` and `from_name()`.
macro_rules! named_counters {
    (
        $(#[$edoc:meta])*
        pub enum $name:ident {
            $( $(#[$doc:meta])* $variant:ident = $cname:literal, $desc:literal; )*
        }
    ) => {
        $(#[$edoc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum $name {
            $( $(#[$doc])* $variant, )*
        }

        impl $name {
            /// Every value, in declaration order (index = `as usize`).
            pub const ALL: &'static [$name] = &[$($name::$variant),*];
            /// Number of values.
            pub const COUNT: usize = Self::ALL.len();

            /// The counter name, as in the stats JSON.
            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $cname,)* }
            }

            /// One line saying what it counts.
            pub fn description(self) -> &'static str {
                match self { $($name::$variant => $desc,)* }
            }

            /// The value with this counter name.
            pub fn from_name(name: &str) -> Option<Self> {
                match name { $($cname => Some($name::$variant),)* _ => None }
            }
        }
    };
}

pub(crate) use named_counters;
