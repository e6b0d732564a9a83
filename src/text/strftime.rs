//! `strftime_now(format)` for chat templates (Llama-style templates print today's date).
//!
//! A tiny C-locale `strftime` over UTC, since hearth has no date/time dependency. transformers
//! formats the server's local time; for the usual date-only formats the two agree except around
//! midnight.

use std::fmt::Write as _;

const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// A broken-down UTC time.
struct Tm {
    year: i64,
    month: u32, // 1..=12
    day: u32,   // 1..=31
    hour: u32,
    minute: u32,
    second: u32,
    weekday: u32, // 0 = Sunday
    yday: u32,    // 1..=366
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

impl Tm {
    fn from_unix(secs: i64) -> Self {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400) as u32;
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        const CUMULATIVE: [u32; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
        let yday = CUMULATIVE[month as usize - 1] + day + u32::from(month > 2 && is_leap(year));
        Tm {
            year,
            month,
            day,
            hour: rem / 3600,
            minute: rem / 60 % 60,
            second: rem % 60,
            weekday: (days + 4).rem_euclid(7) as u32, // 1970-01-01 was a Thursday
            yday,
        }
    }
}

/// Formats `unix_secs` (UTC) like Python's `datetime.strftime` in the C locale, including the
/// glibc `%-d` (no padding) flag. Unknown directives are copied through, as glibc does.
pub(crate) fn strftime(format: &str, unix_secs: i64) -> String {
    let tm = Tm::from_unix(unix_secs);
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = chars.next();
        let unpadded = spec == Some('-');
        if unpadded {
            spec = chars.next();
        }
        let num = |out: &mut String, n: i64, width: usize| {
            let _ = if unpadded {
                write!(out, "{n}")
            } else {
                write!(out, "{n:0width$}")
            };
        };
        match spec {
            Some('a') => out.push_str(&DAYS[tm.weekday as usize][..3]),
            Some('A') => out.push_str(DAYS[tm.weekday as usize]),
            Some('b') | Some('h') => out.push_str(&MONTHS[tm.month as usize - 1][..3]),
            Some('B') => out.push_str(MONTHS[tm.month as usize - 1]),
            Some('C') => num(&mut out, tm.year.div_euclid(100), 2),
            Some('d') => num(&mut out, tm.day.into(), 2),
            Some('e') => {
                let _ = write!(out, "{:>2}", tm.day);
            }
            Some('H') => num(&mut out, tm.hour.into(), 2),
            Some('I') => num(&mut out, ((tm.hour + 11) % 12 + 1).into(), 2),
            Some('j') => num(&mut out, tm.yday.into(), 3),
            Some('m') => num(&mut out, tm.month.into(), 2),
            Some('M') => num(&mut out, tm.minute.into(), 2),
            Some('p') => out.push_str(if tm.hour < 12 { "AM" } else { "PM" }),
            Some('S') => num(&mut out, tm.second.into(), 2),
            Some('u') => num(&mut out, ((tm.weekday + 6) % 7 + 1).into(), 1),
            Some('w') => num(&mut out, tm.weekday.into(), 1),
            Some('y') => num(&mut out, tm.year.rem_euclid(100), 2),
            Some('Y') => {
                let _ = write!(out, "{}", tm.year);
            }
            Some('F') => {
                let _ = write!(out, "{}-{:02}-{:02}", tm.year, tm.month, tm.day);
            }
            Some('D') | Some('x') => {
                let _ = write!(
                    out,
                    "{:02}/{:02}/{:02}",
                    tm.month,
                    tm.day,
                    tm.year.rem_euclid(100)
                );
            }
            Some('T') | Some('X') => {
                let _ = write!(out, "{:02}:{:02}:{:02}", tm.hour, tm.minute, tm.second);
            }
            Some('R') => {
                let _ = write!(out, "{:02}:{:02}", tm.hour, tm.minute);
            }
            Some('c') => {
                let _ = write!(
                    out,
                    "{} {} {:>2} {:02}:{:02}:{:02} {}",
                    &DAYS[tm.weekday as usize][..3],
                    &MONTHS[tm.month as usize - 1][..3],
                    tm.day,
                    tm.hour,
                    tm.minute,
                    tm.second,
                    tm.year
                );
            }
            // Python formats a naive datetime's zone as empty.
            Some('Z') | Some('z') => {}
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                if unpadded {
                    out.push('-');
                }
                out.push(other);
            }
            None => {
                out.push('%');
                if unpadded {
                    out.push('-');
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::strftime;

    #[test]
    fn formats_like_python_in_utc() {
        // 2026-11-28 01:38:12 UTC; expectations from Python's strftime.
        let t = 1_795_829_892;
        assert_eq!(
            strftime("%Y-%m-%d %H:%M:%S %a %A %b %B %j %p %I %y %%", t),
            "2026-11-28 01:38:12 Sat Saturday Nov November 332 AM 01 26 %"
        );
        assert_eq!(strftime("%-d|%e|%Z|%z|%d %b %Y", t), "28|28|||28 Nov 2026");
        // Leap day, afternoon, and the epoch.
        assert_eq!(
            strftime("%F %T %j %u %w %I%p", 951_782_400 + 13 * 3600),
            "2000-02-29 13:00:00 060 2 2 01PM"
        );
        assert_eq!(strftime("%c|%q|%", 0), "Thu Jan  1 00:00:00 1970|%q|%");
    }
}
