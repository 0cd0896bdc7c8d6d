// ConditionLock and MonotonicClock live in WauseSupport so the lower layers (transport) can use
// them too; everything that imports WauseCore keeps seeing them.
@_exported import WauseSupport
