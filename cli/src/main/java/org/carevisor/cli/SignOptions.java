package org.carevisor.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * {@code --sign MEANING} of critical actions: an electronic signature (21 CFR 11) made of the logged-in user's
 * name, their password (asked for each signature) and the meaning of the signature.
 */
final class SignOptions {
    /** Meanings of a signature the manager accepts. */
    static final List<String> MEANINGS = List.of("authored", "reviewed", "approved", "responsible");

    @Option(names = "--sign", paramLabel = "MEANING",
            description = "sign electronically with your password; MEANING: authored, reviewed, approved, responsible")
    String meaning;

    @Option(names = "--password-stdin", description = "read the signing password from one line of standard input")
    boolean passwordStdin;

    /** The {@code signature} member of the request body, or null without --sign. */
    ObjectNode signature(CarevisorCli root) {
        if (meaning == null) {
            return null;
        }
        return signature(root, meaning, passwordStdin);
    }

    static ObjectNode signature(CarevisorCli root, String meaning, boolean passwordStdin) {
        if (!MEANINGS.contains(meaning)) {
            throw new CliException(ExitCodes.USAGE, "--sign: the meaning must be one of " + String.join(", ", MEANINGS)
                    + ", not '" + meaning + "'");
        }
        String user = root.currentUser();
        String password = root.password("Password of " + user + " to sign (" + meaning + "): ", passwordStdin);
        return ApiClient.json().createObjectNode().put("username", user).put("password", password)
                .put("meaning", meaning);
    }

    /** DELETE of {@code path}, with a body holding the signature when --sign was given. */
    JsonNode delete(CarevisorCli root, String path) {
        ObjectNode sig = signature(root);
        return sig == null ? root.api().delete(path)
                : root.api().deleteWithBody(path, ApiClient.json().createObjectNode().set("signature", sig));
    }

    /** A body with the command's reason (when given) and the signature (with --sign). */
    ObjectNode body(CarevisorCli root) {
        ObjectNode body = ApiClient.json().createObjectNode();
        if (root.reason != null) {
            body.put("reason", root.reason);
        }
        ObjectNode sig = signature(root);
        if (sig != null) {
            body.set("signature", sig);
        }
        return body;
    }
}
