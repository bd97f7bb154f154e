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
            return ApiException.invalid(path(f), "'" + f.getValue() + "' is not a valid "
                    + f.getTargetType().getSimpleName().toLowerCase(java.util.Locale.ROOT));
        }
        if (e instanceof MismatchedInputException m && !m.getPath().isEmpty()) {
            return ApiException.invalid(path(m), "has the wrong type: " + m.getOriginalMessage());
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
