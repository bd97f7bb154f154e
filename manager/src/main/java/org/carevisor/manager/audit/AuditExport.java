package org.carevisor.manager.audit;

import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.apache.pdfbox.pdmodel.PDDocument;
import org.apache.pdfbox.pdmodel.PDPage;
import org.apache.pdfbox.pdmodel.PDPageContentStream;
import org.apache.pdfbox.pdmodel.common.PDRectangle;
import org.apache.pdfbox.pdmodel.font.PDType1Font;
import org.apache.pdfbox.pdmodel.font.Standard14Fonts;

/**
 * Exports of the audit trail for review: CSV (one line per record, every field, for spreadsheets and
 * archives) and PDF (a readable report with the query, the chain status, and for every record time, user,
 * action, object, old and new value, reason, outcome and the signature's printed name, time and meaning).
 */
public final class AuditExport {
    static final String[] CSV_HEADER = {"seq", "time_utc", "user", "user_id", "action", "target_type", "target_id",
        "target_name", "old_value", "new_value", "reason", "outcome", "client_address", "task_id",
        "signed_by", "signature_meaning", "signed_at", "hash"};

    private AuditExport() {
    }

    /** Writes a CSV (RFC 4180, UTF-8) of the records. */
    public static void csv(List<AuditRecord> records, OutputStream out) throws IOException {
        Writer w = new OutputStreamWriter(out, StandardCharsets.UTF_8);
        w.write(String.join(",", CSV_HEADER));
        w.write("\r\n");
        for (AuditRecord r : records) {
            AuditRecord.SignatureView s = r.signature();
            String[] f = {String.valueOf(r.seq()), str(r.at()), r.actor(), r.actorId(), r.action(), r.targetType(),
                r.targetId(), r.targetName(), r.oldValue(), r.newValue(), r.reason(), r.outcome(), r.clientAddress(),
                r.taskId(), s == null ? null : s.printedName(), s == null ? null : s.meaning(),
                s == null ? null : str(s.signedAt()), r.hash()};
            for (int i = 0; i < f.length; i++) {
                if (i > 0) {
                    w.write(',');
                }
                w.write(quote(f[i]));
            }
            w.write("\r\n");
        }
        w.flush();
    }

    static String quote(String v) {
        if (v == null) {
            return "";
        }
        // a leading =, +, - or @ would be run as a formula by spreadsheet programs
        String safe = !v.isEmpty() && "=+-@".indexOf(v.charAt(0)) >= 0 ? "'" + v : v;
        if (safe.contains(",") || safe.contains("\"") || safe.contains("\n") || safe.contains("\r") || !safe.equals(v)) {
            return "\"" + safe.replace("\"", "\"\"") + "\"";
        }
        return safe;
    }

    /** Writes a PDF report of the records. */
    public static void pdf(List<AuditRecord> records, String title, List<String> header, OutputStream out)
            throws IOException {
        try (PDDocument doc = new PDDocument()) {
            Page page = new Page(doc);
            page.line(title, 13, true);
            for (String h : header) {
                page.line(h, 9, false);
            }
            page.gap();
            if (records.isEmpty()) {
                page.line("No records match this query.", 10, false);
            }
            for (AuditRecord r : records) {
                page.keep(4);
                page.line("#" + r.seq() + "  " + str(r.at()) + "  " + r.action() + "  " + r.outcome().toUpperCase(), 9.5f,
                        true);
                page.wrapped("user: " + r.actor() + (r.clientAddress() == null ? "" : " from " + r.clientAddress())
                        + "    object: " + (r.targetType() == null ? "-" : r.targetType()) + " "
                        + (r.targetName() == null ? nz(r.targetId()) : r.targetName()), 8.5f);
                if (r.oldValue() != null) {
                    page.wrapped("before: " + r.oldValue(), 8.5f);
                }
                if (r.newValue() != null) {
                    page.wrapped("after: " + r.newValue(), 8.5f);
                }
                if (r.reason() != null) {
                    page.wrapped("reason: " + r.reason(), 8.5f);
                }
                if (r.signature() != null) {
                    page.wrapped("ELECTRONIC SIGNATURE: " + r.signature().printedName() + ", "
                            + str(r.signature().signedAt()) + ", meaning: " + r.signature().meaning(), 8.5f);
                }
                page.gap();
            }
            page.close();
            int n = doc.getNumberOfPages();
            for (int i = 0; i < n; i++) {
                PDPage p = doc.getPage(i);
                try (PDPageContentStream cs = new PDPageContentStream(doc, p, PDPageContentStream.AppendMode.APPEND,
                        true)) {
                    cs.beginText();
                    cs.setFont(Page.REGULAR, 8);
                    cs.newLineAtOffset(Page.MARGIN, 20);
                    cs.showText(latin1("Carevisor audit trail - " + title + " - page " + (i + 1) + " of " + n));
                    cs.endText();
                }
            }
            doc.save(out);
        }
    }

    /** One page after another, with line wrapping. */
    private static final class Page {
        static final PDType1Font REGULAR = new PDType1Font(Standard14Fonts.FontName.HELVETICA);
        static final PDType1Font BOLD = new PDType1Font(Standard14Fonts.FontName.HELVETICA_BOLD);
        static final float MARGIN = 40;
        private final PDDocument doc;
        private PDPageContentStream cs;
        private float y;
        private float width;

        Page(PDDocument doc) throws IOException {
            this.doc = doc;
            next();
        }

        private void next() throws IOException {
            if (cs != null) {
                cs.close();
            }
            PDRectangle size = new PDRectangle(PDRectangle.A4.getHeight(), PDRectangle.A4.getWidth()); // landscape
            PDPage p = new PDPage(size);
            doc.addPage(p);
            cs = new PDPageContentStream(doc, p);
            y = size.getHeight() - MARGIN;
            width = size.getWidth() - 2 * MARGIN;
        }

        void keep(int lines) throws IOException {
            if (y - lines * 12 < MARGIN + 10) {
                next();
            }
        }

        void gap() {
            y -= 5;
        }

        void line(String text, float size, boolean bold) throws IOException {
            keep(1);
            cs.beginText();
            cs.setFont(bold ? BOLD : REGULAR, size);
            cs.newLineAtOffset(MARGIN, y);
            cs.showText(latin1(text));
            cs.endText();
            y -= size + 3;
        }

        void wrapped(String text, float size) throws IOException {
            for (String l : wrap(latin1(text), size)) {
                line("    " + l, size, false);
            }
        }

        private List<String> wrap(String text, float size) throws IOException {
            List<String> out = new ArrayList<>();
            String rest = text;
            int guard = 0;
            while (!rest.isEmpty() && guard++ < 200) {
                int n = rest.length();
                while (n > 1 && REGULAR.getStringWidth(rest.substring(0, n)) / 1000 * size > width - 20) {
                    n = Math.max(1, n * 9 / 10);
                }
                out.add(rest.substring(0, n));
                rest = rest.substring(n);
            }
            return out;
        }

        void close() throws IOException {
            cs.close();
        }
    }

    /** Text the standard PDF fonts can show: Latin-1 without control characters; anything else becomes '?'. */
    static String latin1(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (char c : s.toCharArray()) {
            b.append(c >= 32 && c < 127 || c >= 160 && c <= 255 ? c : c == '\n' || c == '\t' ? ' ' : '?');
        }
        return b.toString();
    }

    private static String str(Instant t) {
        return t == null ? null : t.toString();
    }

    private static String nz(String s) {
        return s == null ? "-" : s;
    }
}
