// The C ABI of libwause.so (include/wause.h). This file only converts between C and the engine:
// every decision lives in WauseCore, which the tests exercise directly.
import CWause
import WauseCore
#if canImport(Glibc)
import Glibc
#endif

/// What a `wause_client *` points to: the engine (one client, or every account under
/// `accounts_dir`) and its delivery queue.
final class ClientHandle: Sendable {
    enum Engine: Sendable {
        case single(WauseClient)
        case accounts(Accounts)
    }

    let engine: Engine
    let delivery: Delivery

    init(client: WauseClient) {
        engine = .single(client)
        delivery = Delivery(events: client.events, after: client.events.latestCursor)
    }

    init(accounts: Accounts) {
        engine = .accounts(accounts)
        delivery = Delivery(source: accounts.deliverySource())
    }

    func call(_ method: String, argumentsJSON: String?) async -> Result<JSONObject, WauseError> {
        switch engine {
        case .single(let client): await client.call(method, argumentsJSON: argumentsJSON)
        case .accounts(let accounts): await accounts.call(method, argumentsJSON: argumentsJSON)
        }
    }

    func callBlocking(_ method: String, argumentsJSON: String?) -> Result<JSONObject, WauseError> {
        runBlocking { await self.call(method, argumentsJSON: argumentsJSON) }
    }

    func closeBlocking() -> WauseClient.CloseReport {
        switch engine {
        case .single(let client): client.closeBlocking()
        case .accounts(let accounts): accounts.closeBlocking()
        }
    }

    static func from(_ pointer: OpaquePointer?) -> ClientHandle? {
        guard let pointer else { return nil }
        return Unmanaged<ClientHandle>.fromOpaque(UnsafeRawPointer(pointer)).takeUnretainedValue()
    }
}

/// A malloc'd copy of `text`, for the caller to release with wause_free.
private func cString(_ text: String) -> UnsafeMutablePointer<CChar>? { strdup(text) }

private func string(_ pointer: UnsafePointer<CChar>?) -> String? {
    guard let pointer else { return nil }
    // Invalid UTF-8 is repaired (U+FFFD) rather than trusted.
    return String(decoding: UnsafeRawBufferPointer(start: pointer, count: strlen(pointer)), as: UTF8.self)
}

private func nullArgument(_ name: String) -> WauseError { .invalidRequest("\(name) must not be NULL") }

private func write(_ result: Result<JSONObject, WauseError>, to out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    switch result {
    case .success(let value):
        out.pointee = cString(JSONValue.object(value).serialized)
        return 0
    case .failure(let error):
        out.pointee = cString(error.json.serialized)
        return error.code.cValue
    }
}

/// A C string that lives as long as the process (the header promises static storage).
private func staticCString(_ text: String) -> UnsafePointer<CChar> { UnsafePointer(strdup(text)!) }

private nonisolated(unsafe) let versionString = staticCString(WauseVersion.string)

@_cdecl("wause_version")
public func wause_version() -> UnsafePointer<CChar> { versionString }

// Index = result code: "ok", then the WAUSE_ERR_* names in WauseError.Code order.
private nonisolated(unsafe) let resultNames = (["ok"] + WauseError.Code.allCases.map(\.rawValue)).map(staticCString)
private nonisolated(unsafe) let unknownName = staticCString("unknown")

@_cdecl("wause_result_name")
public func wause_result_name(_ code: Int32) -> UnsafePointer<CChar> {
    resultNames.indices.contains(Int(code)) ? resultNames[Int(code)] : unknownName
}

@_cdecl("wause_catalogue")
public func wause_catalogue() -> UnsafeMutablePointer<CChar>? {
    cString(MethodCatalogue.standard.json.serialized)
}

@_cdecl("wause_client_create")
public func wause_client_create(_ config: UnsafePointer<CChar>?,
                                _ errorOut: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> OpaquePointer? {
    errorOut?.pointee = nil
    do {
        // Keys the JSON lacks come from WAUSE_* variables, as in wause-mcp (ClientConfig.init(json:variable:)).
        let variable: (String) -> String? = { getenv($0).map { String(cString: $0) } }
        let handle: ClientHandle
        if let accounts = try Accounts(configJSON: string(config), variable: variable) {
            handle = ClientHandle(accounts: accounts)
        } else {
            handle = ClientHandle(client: try WauseClient(configJSON: string(config), variable: variable))
        }
        return OpaquePointer(Unmanaged.passRetained(handle).toOpaque())
    } catch {
        errorOut?.pointee = cString(error.json.serialized)
        return nil
    }
}

@_cdecl("wause_client_close")
public func wause_client_close(_ pointer: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    guard let out else { return WauseError.Code.invalidRequest.cValue }
    guard let handle = ClientHandle.from(pointer) else { return write(.failure(nullArgument("client")), to: out) }
    // The delivery stays open: events of the flush (message.sent) still reach the caller until destroy.
    return write(.success(handle.closeBlocking().json), to: out)
}

@_cdecl("wause_client_destroy")
public func wause_client_destroy(_ pointer: OpaquePointer?) {
    guard let pointer else { return }
    let handle = Unmanaged<ClientHandle>.fromOpaque(UnsafeRawPointer(pointer)).takeRetainedValue()
    handle.delivery.close()
    // Flushes like wause_client_close (a no-op if that already ran), so a caller that only
    // destroys does not lose a send made just before.
    _ = handle.closeBlocking()
}

@_cdecl("wause_call")
public func wause_call(_ pointer: OpaquePointer?, _ method: UnsafePointer<CChar>?, _ params: UnsafePointer<CChar>?,
                       _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    guard let out else { return WauseError.Code.invalidRequest.cValue }
    guard let handle = ClientHandle.from(pointer) else { return write(.failure(nullArgument("client")), to: out) }
    guard let method = string(method) else { return write(.failure(nullArgument("method")), to: out) }
    return write(handle.callBlocking(method, argumentsJSON: string(params)), to: out)
}

@_cdecl("wause_send")
public func wause_send(_ pointer: OpaquePointer?, _ requestID: Int64, _ method: UnsafePointer<CChar>?,
                       _ params: UnsafePointer<CChar>?) -> Int32 {
    guard let handle = ClientHandle.from(pointer), let method = string(method) else {
        return WauseError.Code.invalidRequest.cValue
    }
    let arguments = string(params)
    // Fire and forget: the call ends on its own (with "the client is closed" once it is), and its
    // answer goes to the delivery queue, which drops it after wause_client_destroy.
    Task {
        let answer: JSONValue
        switch await handle.call(method, argumentsJSON: arguments) {
        case .success(let result): answer = ["request_id": .int(requestID), "result": .object(result)]
        case .failure(let error): answer = ["request_id": .int(requestID), "error": error.json]
        }
        handle.delivery.post(answer: answer)
    }
    return 0
}

@_cdecl("wause_receive")
public func wause_receive(_ pointer: OpaquePointer?, _ timeoutMilliseconds: Int32) -> UnsafeMutablePointer<CChar>? {
    guard let handle = ClientHandle.from(pointer) else { return nil }
    return handle.delivery.receive(timeoutMilliseconds: Int(timeoutMilliseconds)).flatMap { cString($0.serialized) }
}

/// Carries the C function pointer and its user data into the delivery thread.
/// Unchecked: a C function pointer and an opaque user-data pointer, which the C API's contract
/// (include/wause.h) says may be used from the delivery thread.
private struct ForeignCallback: @unchecked Sendable {
    let function: wause_callback
    let userData: UnsafeMutableRawPointer?
}

@_cdecl("wause_set_callback")
public func wause_set_callback(_ pointer: OpaquePointer?, _ callback: wause_callback?,
                               _ userData: UnsafeMutableRawPointer?) -> Int32 {
    guard let handle = ClientHandle.from(pointer) else { return WauseError.Code.invalidRequest.cValue }
    var deliver: Delivery.Callback?
    if let callback {
        let foreign = ForeignCallback(function: callback, userData: userData)
        deliver = { item in item.serialized.withCString { foreign.function(foreign.userData, $0) } }
    }
    do throws(WauseError) {
        try handle.delivery.setCallback(deliver)
        return 0
    } catch {
        return error.code.cValue
    }
}

@_cdecl("wause_events")
public func wause_events(_ pointer: OpaquePointer?, _ afterCursor: Int64, _ limit: Int32,
                         _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    guard let out else { return WauseError.Code.invalidRequest.cValue }
    guard let handle = ClientHandle.from(pointer) else { return write(.failure(nullArgument("client")), to: out) }
    guard case .single(let client) = handle.engine else {
        // Each account's log has its own cursors: replay one with whatsapp_sync {account, after}.
        return write(.failure(.invalidRequest("with accounts_dir, replay an account's events with whatsapp_sync {account, after}")),
                     to: out)
    }
    return write(Result { () throws(WauseError) in try client.replayEvents(after: afterCursor, limit: Int(limit)) }, to: out)
}

@_cdecl("wause_free")
public func wause_free(_ pointer: UnsafeMutableRawPointer?) {
    free(pointer)
}
