//! Calendar fields of a time since the Unix epoch, in UTC (proleptic Gregorian), for the
//! dates Java prints: `dump`'s `Date.toString()`, the audit log's ISO 8601, the dump tools'
//! times and the build date of `srvr`. No time zones: every text is UTC. Free of crate
//! imports so that `build.rs` compiles this file too.

/// A time split into UTC calendar fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utc {
    pub year: i64,
    /// 1-12.
    pub month: u32,
    /// 1-31.
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub milli: u32,
    /// 0 = Sunday ... 6 = Saturday.
    pub weekday: u32,
}

/// `ms` since 1970-01-01 00:00:00 UTC (negative before it) as calendar fields.
pub fn utc(ms: i64) -> Utc {
    let days = ms.div_euclid(86_400_000);
    let ms_of_day = ms.rem_euclid(86_400_000) as u32;
    let (year, month, day) = civil_from_days(days);
    Utc {
        year,
        month,
        day,
        hour: ms_of_day / 3_600_000,
        minute: ms_of_day / 60_000 % 60,
        second: ms_of_day / 1000 % 60,
        milli: ms_of_day % 1000,
        // 1970-01-01 was a Thursday.
        weekday: (days + 4).rem_euclid(7) as u32,
    }
}

/// Days since 1970-01-01 to (year, month 1-12, day 1-31): Howard Hinnant's
/// `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_leap_days_and_before_the_epoch() {
        let t = utc(0);
        assert_eq!((t.year, t.month, t.day, t.weekday), (1970, 1, 1, 4));
        let t = utc(951_782_400_000);
        assert_eq!((t.year, t.month, t.day, t.weekday), (2000, 2, 29, 2));
        let t = utc(1_709_251_199_007);
        assert_eq!(
            (t.year, t.month, t.day, t.hour, t.minute, t.second, t.milli),
            (2024, 2, 29, 23, 59, 59, 7)
        );
        let t = utc(-1);
        assert_eq!(
            (t.year, t.month, t.day, t.hour, t.second, t.milli, t.weekday),
            (1969, 12, 31, 23, 59, 999, 3)
        );
    }
}
