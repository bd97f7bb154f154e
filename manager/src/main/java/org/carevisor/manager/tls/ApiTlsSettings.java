package org.carevisor.manager.tls;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.function.BiFunction;

/**
 * How the API and web console are served: HTTPS with a certificate the manager's CA issues (the default), HTTPS
 * with the operator's certificate (PEM files or a PKCS#12 file), or plain HTTP, which is allowed on a loopback
 * address only and only when asked for.
 *
 * @param certificate  PEM file with the certificate chain (leaf first), or null
 * @param key          PEM file with the private key of {@code certificate}, or null
 * @param keystore     PKCS#12 file with key and chain, or null
 * @param keystorePassword password of {@code keystore} (empty when it has none)
 * @param publicNames  DNS names and addresses users reach the manager at (subject alternative names of the
 *                     issued certificate; the first one is the URL the manager announces)
 * @param plainHttp    serve plain HTTP instead of HTTPS (loopback only)
 */
public record ApiTlsSettings(Path certificate, Path key, Path keystore, String keystorePassword,
                             List<String> publicNames, boolean plainHttp) {

    public ApiTlsSettings {
        publicNames = List.copyOf(publicNames);
    }

    /** The settings of {@code --tls-cert}, {@code --tls-key}, {@code --tls-keystore}, ... read through {@code get}. */
    public static ApiTlsSettings parse(BiFunction<String, String, String> get, String listenAddress) {
        String cert = get.apply("tls-cert", null);
        String key = get.apply("tls-key", null);
        String keystore = get.apply("tls-keystore", null);
        String password = get.apply("tls-keystore-password", "");
        List<String> names = Arrays.stream(get.apply("public-name", "").split(",")).map(String::strip)
                .filter(s -> !s.isEmpty()).toList();
        String plain = get.apply("plain-http", "false");
        if (!plain.equals("true") && !plain.equals("false")) {
            throw new IllegalArgumentException("--plain-http must be true or false, not '" + plain + "'");
        }
        for (String n : names) {
            if (!n.matches("[A-Za-z0-9.:-]{1,253}")) {
                throw new IllegalArgumentException("--public-name: '" + n + "' is not a DNS name or an IP address");
            }
        }
        if ((cert == null) != (key == null)) {
            throw new IllegalArgumentException("--tls-cert and --tls-key go together: give the certificate chain"
                    + " and its private key as PEM files");
        }
        if (keystore != null && cert != null) {
            throw new IllegalArgumentException("give either --tls-cert/--tls-key (PEM) or --tls-keystore (PKCS#12),"
                    + " not both");
        }
        ApiTlsSettings s = new ApiTlsSettings(cert == null ? null : Path.of(cert).toAbsolutePath(),
                key == null ? null : Path.of(key).toAbsolutePath(),
                keystore == null ? null : Path.of(keystore).toAbsolutePath(), password, names,
                plain.equals("true"));
        if (s.plainHttp) {
            if (cert != null || keystore != null) {
                throw new IllegalArgumentException("--plain-http true contradicts --tls-cert/--tls-keystore");
            }
            if (!isLoopback(listenAddress)) {
                throw new IllegalArgumentException("refusing to serve the API and web console over plain HTTP on "
                        + listenAddress + ": passwords, tokens and signatures would cross the network in clear."
                        + " Leave out --plain-http (HTTPS is the default; the manager's CA issues the certificate,"
                        + " or give your own with --tls-cert/--tls-key), or listen on 127.0.0.1");
            }
        }
        return s;
    }

    /** True when the manager's own CA issues the API certificate. */
    public boolean issued() {
        return !plainHttp && certificate == null && keystore == null;
    }

    /** True for an address that only this machine can reach (127.0.0.0/8, ::1, localhost). */
    public static boolean isLoopback(String address) {
        if (address == null) {
            return false;
        }
        if (address.equals("localhost")) {
            return true;
        }
        if (!address.matches("[0-9.]+|[0-9A-Fa-f:]+")) {
            return false; // a host name other than localhost: never assume it is local
        }
        try {
            return InetAddress.getByName(address).isLoopbackAddress();
        } catch (UnknownHostException e) {
            return false;
        }
    }
}
