package org.carevisor.manager.security;

import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.io.InputStream;
import org.carevisor.manager.api.ApiException;

/**
 * Reads a request body of the agent listener, never more than a limit: a declared length over the limit is
 * refused before a byte is read, a chunked body is read up to the limit and refused when it goes on.
 * Stateless.
 */
final class BoundedBody {
    private BoundedBody() {
    }

    /** The body, or 413 {@code body-too-large} when it is longer than {@code limit} bytes. */
    static byte[] read(HttpExchange ex, int limit, String what) throws IOException {
        String declared = ex.getRequestHeaders().getFirst("Content-Length");
        if (declared != null) {
            long length;
            try {
                length = Long.parseLong(declared.strip());
            } catch (NumberFormatException e) {
                throw new ApiException(400, "bad-request", "Bad request", "Content-Length is not a number", null);
            }
            if (length > limit) {
                throw tooLarge(what, limit, length + " bytes");
            }
        }
        byte[] body = ex.getRequestBody().readNBytes(limit + 1); // the exchange closes the stream
        if (body.length > limit) {
            throw tooLarge(what, limit, "more");
        }
        return body;
    }

    /** How much more than its limit of a refused body is read and thrown away. */
    static final long DISCARD_MARGIN = 1024 * 1024;

    /**
     * Reads and throws away what is left of a refused body, up to {@code limit} + {@link #DISCARD_MARGIN} bytes
     * (nothing is kept): a server that answers and closes with unread bytes pending resets the connection, and
     * the client would see the reset instead of the answer. A body longer still just gets the reset.
     */
    static void discard(HttpExchange ex, int limit) {
        try {
            InputStream in = ex.getRequestBody();
            byte[] buffer = new byte[8192];
            long left = limit + DISCARD_MARGIN;
            int n;
            while (left > 0 && (n = in.read(buffer, 0, (int) Math.min(buffer.length, left))) > 0) {
                left -= n;
            }
        } catch (IOException e) {
            // the client went away; nothing to answer
        }
    }

    private static ApiException tooLarge(String what, int limit, String got) {
        return new ApiException(413, "body-too-large", "Request too large", what + " may be at most " + limit
                + " bytes, this one has " + got, null);
    }
}
