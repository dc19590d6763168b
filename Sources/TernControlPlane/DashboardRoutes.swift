import HTTPTypes
import Hummingbird
import NIOCore

/// The dashboard (`GET /dashboard`): a page that lists the APIs with their status and plots, per
/// API, request rate, p50/p99 latency, in-flight, replicas and the prediction distribution,
/// polling `GET /v1/apis` every 2 s (docs/dashboard.md).
///
/// The page, its script and its style are compiled into the binary (`resources: .embedInCode` in
/// Package.swift) and served without a token: they hold no data. The script asks for the
/// control-plane token (or takes it from the URL fragment, `#token=…`, which browsers do not send
/// to the server), keeps it in the tab's `sessionStorage` and sends it as a bearer token on every
/// `/v1` call. A Content-Security-Policy allows only the server's own script, style and API.
enum DashboardRoutes {
    /// One embedded file and its media type.
    struct Asset: Sendable {
        var bytes: [UInt8]
        var contentType: String
    }

    /// `/dashboard`, `/dashboard/app.js`, `/dashboard/style.css`.
    static let assets: [String: Asset] = [
        "/dashboard": Asset(bytes: PackageResources.index_html, contentType: "text/html; charset=utf-8"),
        "/dashboard/app.js": Asset(bytes: PackageResources.app_js, contentType: "text/javascript; charset=utf-8"),
        "/dashboard/style.css": Asset(bytes: PackageResources.style_css, contentType: "text/css; charset=utf-8"),
    ]

    /// The policy sent with every asset: own script, style and API calls only; no frames.
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

    /// Adds the routes to `router` (outside the token middleware).
    static func add(to router: Router<BasicRequestContext>) {
        for (path, asset) in assets {
            router.get(RouterPath(path)) { _, _ in
                Response(
                    status: .ok,
                    headers: [
                        .contentType: asset.contentType, .cacheControl: "no-cache",
                        HTTPField.Name("Content-Security-Policy")!: contentSecurityPolicy,
                        HTTPField.Name("X-Content-Type-Options")!: "nosniff",
                    ],
                    body: ResponseBody(byteBuffer: ByteBuffer(bytes: asset.bytes)))
            }
        }
    }
}
