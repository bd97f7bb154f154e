package org.carevisor.cli;

import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/** How the CLI shows a manager certificate to a person: names, validity, fingerprint and what to do. */
final class Certificates {
    private Certificates() {
    }

    /** The DNS names and IP addresses a certificate is valid for. */
    static List<String> names(X509Certificate cert) {
        List<String> out = new ArrayList<>();
        try {
            Collection<List<?>> sans = cert.getSubjectAlternativeNames();
            if (sans != null) {
                for (List<?> san : sans) {
                    if (Integer.valueOf(2).equals(san.get(0)) || Integer.valueOf(7).equals(san.get(0))) {
                        out.add(String.valueOf(san.get(1)));
                    }
                }
            }
        } catch (CertificateParsingException e) {
            // shown as no names
        }
        return out;
    }

    /** A description of a presented chain: who it was issued to and by, and the fingerprint to compare. */
    static String describe(ManagerTrust trust) {
        X509Certificate leaf = trust.presented()[0];
        X509Certificate anchor = trust.anchor();
        return "  issued to    " + leaf.getSubjectX500Principal().getName() + " for " + names(leaf)
                + "\n  valid until  " + leaf.getNotAfter().toInstant()
                + "\n  issued by    " + anchor.getSubjectX500Principal().getName()
                + "\n  fingerprint  " + ManagerTrust.fingerprint(anchor)
                + (anchor == leaf ? " (of the certificate itself)" : " (of the issuing CA)");
    }

    /** The error of a refused certificate: what was presented, why it was refused, and how to go on safely. */
    static String untrustedMessage(String base, ManagerTrust trust) {
        String host = base.replaceFirst("^https://", "").replaceFirst("[:/].*$", "");
        if (trust.nameMismatch()) {
            return "the manager at " + base + " presented a certificate that is not valid for '" + host + "':\n"
                    + describe(trust) + "\nUse one of its names in --url, or give the manager this name with"
                    + " --public-name (or install a certificate that names it).";
        }
        String known = trust.knownFingerprint();
        String fp = ManagerTrust.fingerprint(trust.anchor());
        if (known != null && !known.equalsIgnoreCase(fp)) {
            return "WARNING: the certificate of the manager at " + base + " CHANGED since you trusted it (was "
                    + known + "):\n" + describe(trust) + "\nThis is what a man-in-the-middle attack looks like. If"
                    + " the manager's certificate authority was really replaced, confirm the new fingerprint with"
                    + " the manager's administrator, then run the command again with --trust-fingerprint " + fp;
        }
        return "the manager at " + base + " presented a certificate this CLI does not trust ("
                + trust.failure() + "):\n" + describe(trust)
                + "\nCompare the fingerprint with the one the manager printed at its start (./carevisor status on"
                + " its machine, or its log). If it matches, run the command again with --trust-fingerprint " + fp
                + "\n(it is then remembered for this URL), or give the CA file with --ca FILE"
                + " (var/manager/pki/api-ca.crt on the manager's machine).";
    }
}
