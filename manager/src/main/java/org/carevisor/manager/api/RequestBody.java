package org.carevisor.manager.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import io.javalin.http.Context;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The one place where a request body is read, for the {@link Guard} and for the endpoint alike: the bytes are
 * parsed once per request (strictly, see {@link Json}) and the parsed value is kept in the request, so what the
 * guard authorized and what the endpoint does can never be two readings of the same bytes. When the guard
 * resolves a reference in the body (a cluster, a host, a VM by name), it stores the body with the ids it
 * checked ({@link #checked}); the endpoint then works on exactly those ids. Not shared between requests.
 */
public final class RequestBody {
    private static final String TREE = "carevisor.body.tree";
    private static final String TYPED = "carevisor.body.typed";

    private RequestBody() {
    }

    /** True when the request carries a body (any bytes at all). */
    static boolean present(Context ctx) {
        return ctx.bodyAsBytes().length > 0;
    }

    /**
     * The body as JSON object, or null when there is none; 400 {@code malformed-json} (or
     * {@code validation-failed} when it is not an object) otherwise.
     */
    static JsonNode tree(Context ctx) {
        if (!present(ctx)) {
            return null;
        }
        JsonNode cached = ctx.attribute(TREE);
        if (cached != null) {
            return cached;
        }
        JsonNode n;
        try {
            n = Json.mapper().readTree(ctx.bodyAsBytes());
        } catch (JsonProcessingException e) {
            throw Problems.fromJson(e);
        } catch (java.io.IOException e) {
            throw new ApiException(400, "body-unreadable", "The request body cannot be read", e.getMessage(), null);
        }
        if (n == null || !n.isObject()) {
            throw ApiException.invalid("body", "must be a JSON object");
        }
        ctx.attribute(TREE, n);
        return n;
    }

    /** The body as {@code type}; 400 naming the field when it does not fit, 400 when there is no body. */
    public static <T> T read(Context ctx, Class<T> type) {
        Map<Class<?>, Object> typed = typed(ctx);
        Object v = typed.get(type);
        if (v == null) {
            v = Json.read(ctx.bodyAsBytes(), type);
            typed.put(type, v);
        }
        return type.cast(v);
    }

    /** The body as {@code type}, or {@code empty} when the request has no body. */
    public static <T> T readOr(Context ctx, Class<T> type, T empty) {
        Map<Class<?>, Object> typed = typed(ctx);
        if (typed.containsKey(type)) {
            return type.cast(typed.get(type));
        }
        return present(ctx) ? read(ctx, type) : empty;
    }

    /** Keeps {@code value} as the body of its type: the guard's resolved form, which the endpoint then reads. */
    static <T> void checked(Context ctx, Class<T> type, T value) {
        typed(ctx).put(type, value);
    }

    private static Map<Class<?>, Object> typed(Context ctx) {
        Map<Class<?>, Object> m = ctx.attribute(TYPED);
        if (m == null) {
            m = new HashMap<>();
            ctx.attribute(TYPED, m);
        }
        return m;
    }

    /**
     * A string member of the body: null when absent or JSON null; 400 naming the field when it has another JSON
     * type (a number is not a name).
     */
    static String text(JsonNode body, String field) {
        return text(body, field, field);
    }

    static String text(JsonNode body, String field, String path) {
        if (body == null) {
            return null;
        }
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isTextual()) {
            throw ApiException.invalid(path, "must be a JSON string, not " + v.getNodeType().name()
                    .toLowerCase(java.util.Locale.ROOT) + " " + abbreviate(v.toString()));
        }
        return v.asText();
    }

    /** An object member of the body, or null; 400 when it has another JSON type. */
    static JsonNode object(JsonNode body, String field) {
        if (body == null) {
            return null;
        }
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isObject()) {
            throw new ApiException(400, "validation-failed", "The request is not valid", field
                    + ": must be a JSON object", List.of(new ApiException.FieldError(field, "must be a JSON object")));
        }
        return v;
    }

    private static String abbreviate(String s) {
        return s.length() <= 40 ? s : s.substring(0, 40) + "...";
    }
}
