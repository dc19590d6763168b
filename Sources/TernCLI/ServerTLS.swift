import NIOSSL

extension ServerOptions {
    /// The TLS settings of both listeners from `--tls-certificate` and `--tls-key` (PEM files),
    /// checked by making a context once, so a bad file stops `tern serve` at start with the file
    /// named; nil without them.
    /// - Throws: ``CLIError`` naming the option and file when one cannot be read or parsed, or
    ///   when the key does not belong to the certificate.
    var tlsConfiguration: TLSConfiguration? {
        get throws {
            guard let tlsCertificate, let tlsKey else { return nil }
            let chain: [NIOSSLCertificate]
            do {
                chain = try NIOSSLCertificate.fromPEMFile(tlsCertificate)
            } catch {
                throw CLIError("--tls-certificate: cannot read \(tlsCertificate) as PEM certificates (\(error))")
            }
            guard !chain.isEmpty else { throw CLIError("--tls-certificate: \(tlsCertificate) holds no certificate") }
            let key: NIOSSLPrivateKey
            do {
                key = try NIOSSLPrivateKey(file: tlsKey, format: .pem)
            } catch {
                throw CLIError("--tls-key: cannot read \(tlsKey) as a PEM private key (\(error))")
            }
            let configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
            do {
                _ = try NIOSSLContext(configuration: configuration)
            } catch {
                throw CLIError("--tls-key: \(tlsKey) does not go with the certificate of \(tlsCertificate) (\(error))")
            }
            return configuration
        }
    }
}
