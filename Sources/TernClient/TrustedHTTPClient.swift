import AsyncHTTPClient
import NIOSSL
import Synchronization

/// The HTTP clients of this process, by the extra certificate they trust: AsyncHTTPClient's shared
/// client when there is none (the system's roots only), else one client per PEM file that trusts
/// the file's certificates in addition to the system's roots — so a server started with a
/// self-signed certificate (`tern serve --tls-certificate`) is verified against exactly that
/// certificate, hostname included.
///
/// The clients live as long as the process (a CLI run): they are never shut down, so none is
/// torn down while a call runs.
public enum TrustedHTTPClient {
    private static let clients = Mutex<[String: HTTPClient]>([:])

    /// The client for servers whose certificate `caFile` (PEM) holds or is issued by; the shared
    /// client for nil.
    /// - Throws: NIOSSL's error when `caFile` cannot be read as PEM certificates.
    public static func trusting(_ caFile: String?) throws -> HTTPClient {
        guard let caFile else { return .shared }
        return try clients.withLock { clients in
            if let client = clients[caFile] { return client }
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.additionalTrustRoots = [.certificates(try NIOSSLCertificate.fromPEMFile(caFile))]
            var configuration = HTTPClient.Configuration.singletonConfiguration
            configuration.tlsConfiguration = tls
            let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
            clients[caFile] = client
            return client
        }
    }
}
