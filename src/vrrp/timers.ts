// VRRP timer arithmetic in milliseconds (fractions allowed; every value here is a multiple of
// 1/256 ms, so it is exact in a double).
import type { VrrpVersion } from './packet.js';

/** Adverts a backup misses before declaring the master down (keepalived down_timer_adverts). */
export const DEFAULT_DOWN_TIMER_ADVERTS = 3;

/**
 * Skew_Time. v3 (RFC 9568 §6.1): ((256 - priority) * Master_Adver_Interval) / 256. v2 (RFC 3768
 * §6.1): (256 - priority) / 256 seconds whatever the advert interval, which keepalived 2.2.7
 * keeps (VRRP_TIMER_SKEW_CALC uses TIMER_HZ for v2): 609.375 ms at priority 100.
 * keepalived truncates to whole microseconds; this does not (a difference below 1 µs).
 */
export function skewTimeMs(version: VrrpVersion, priority: number, masterAdverIntervalMs: number): number {
  return ((256 - priority) * (version === 2 ? 1000 : masterAdverIntervalMs)) / 256;
}

/** Master_Down_Interval = down_timer_adverts × Master_Adver_Interval + Skew_Time. */
export function masterDownIntervalMs(
  version: VrrpVersion,
  priority: number,
  masterAdverIntervalMs: number,
  downTimerAdverts = DEFAULT_DOWN_TIMER_ADVERTS,
): number {
  return downTimerAdverts * masterAdverIntervalMs + skewTimeMs(version, priority, masterAdverIntervalMs);
}
