package org.carevisor.manager.api;

import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import io.javalin.http.Context;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Maps every error to an RFC 9457 problem document; the one place where errors become HTTP answers. */
public final class Problems {
    public static final String TYPE_BASE = "https://carevisor.org/problems/";
    public static final String CONTENT_TYPE = "application/problem+json";

    private Problems() {
    }

    /** Writes the problem document for {@code e}. */
    public static void write(Context ctx, ApiException e) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("type", TYPE_BASE + e.code());
        body.put("title", e.title());
        body.put("status", e.status());
        body.put("detail", e.getMessage());
        body.put("instance", ctx.path());
        body.put("code", e.code());
        if (!e.errors().isEmpty()) {
            body.put("errors", e.errors());
        }
        if (e instanceof HttpHardening.Incident i) {
            body.put("incident", i.id());
        }
        if (e.retryAfterSeconds() > 0) {
            body.put("retryAfterSeconds", e.retryAfterSeconds());
            ctx.header("Retry-After", Long.toString(e.retryAfterSeconds()));
        }
        ctx.status(e.status()).contentType(CONTENT_TYPE).result(Json.write(body));
    }

    /** Explains why a request body could not be read, naming the field where possible. */
    public static ApiException fromJson(JsonProcessingException e) {
        if (e instanceof UnrecognizedPropertyException u) {
            String field = path(u);
            return ApiException.invalid(field, "unknown field '" + u.getPropertyName() + "'; known fields: "
                    + u.getKnownPropertyIds());
        }
        if (e instanceof InvalidFormatException f) {
            Object v = f.getValue();
            if (f.getTargetType() == String.class) {
                return ApiException.invalid(path(f), "must be a JSON string, not the " + jsonType(v) + " " + v);
            }
            if (v instanceof String && (f.getTargetType() == Boolean.class || f.getTargetType() == boolean.class
                    || Number.class.isAssignableFrom(f.getTargetType()) || f.getTargetType().isPrimitive())) {
                return ApiException.invalid(path(f), "must be a JSON " + jsonType(f.getTargetType())
                        + ", not the string \"" + v + "\"");
            }
            return ApiException.invalid(path(f), "'" + v + "' is not a valid "
                    + f.getTargetType().getSimpleName().toLowerCase(java.util.Locale.ROOT));
        }
        if (e instanceof MismatchedInputException m && !m.getPath().isEmpty()) {
            String expected = expected(m.getTargetType());
            return ApiException.invalid(path(m), expected != null ? "has the wrong JSON type: must be " + expected
                    : "has the wrong type: " + m.getOriginalMessage());
        }
        if (e instanceof JsonMappingException m && m.getCause() instanceof ApiException api) {
            return api;
        }
        if (e instanceof JsonParseException p) {
            return new ApiException(400, "malformed-json", "The request body is not valid JSON",
                    "malformed JSON at line " + p.getLocation().getLineNr() + ", column "
                            + p.getLocation().getColumnNr() + ": " + p.getOriginalMessage(),
                    List.of(new ApiException.FieldError("body", p.getOriginalMessage())));
        }
        return new ApiException(400, "malformed-json", "The request body is not valid JSON",
                e.getOriginalMessage(), List.of(new ApiException.FieldError("body", e.getOriginalMessage())));
    }

    /** What a JSON value of {@code t} looks like, or null when it is not one of the plain kinds. */
    private static String expected(Class<?> t) {
        if (t == null) {
            return null;
        }
        if (t == String.class) {
            return "a string";
        }
        if (t == Integer.class || t == int.class || t == Long.class || t == long.class) {
            return "a whole number";
        }
        if (t == Double.class || t == double.class) {
            return "a number";
        }
        if (t == Boolean.class || t == boolean.class) {
            return "true or false";
        }
        if (java.util.Collection.class.isAssignableFrom(t)) {
            return "an array";
        }
        if (t.isRecord() || java.util.Map.class.isAssignableFrom(t)) {
            return "an object";
        }
        return null;
    }

    private static String jsonType(Object v) {
        return v instanceof Boolean ? "boolean" : v instanceof Number ? "number" : "value";
    }

    private static String jsonType(Class<?> t) {
        return t == Boolean.class || t == boolean.class ? "boolean (true or false)" : "number";
    }

    private static String path(JsonMappingException e) {
        StringBuilder out = new StringBuilder();
        for (JsonMappingException.Reference r : e.getPath()) {
            if (r.getFieldName() != null) {
                if (!out.isEmpty()) {
                    out.append('.');
                }
                out.append(r.getFieldName());
            } else if (r.getIndex() >= 0) {
                out.append('[').append(r.getIndex()).append(']');
            }
        }
        return out.isEmpty() ? "body" : out.toString();
    }
}
