// ConditionLock, MonotonicClock and JSONValue live in WauseSupport so the lower layers (transport)
// and the developer CLIs can use them too; everything that imports WauseCore keeps seeing them.
@_exported import WauseSupport
