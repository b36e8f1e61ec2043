package dev.peft4j.train.embedding;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A retrieval task in the BEIR / MTEB layout: {@code queries.jsonl} ({@code {"_id", "text"}} per
 * line), {@code corpus.jsonl} ({@code {"_id", "title", "text"}}; a document is embedded as {@code
 * title + " " + text}, or its text when the title is empty, as BEIR's sentence-transformers
 * evaluation does) and a qrels TSV ({@code query-id, corpus-id, score} with a header line; a
 * document is relevant when its score is positive). Errors name the file and line.
 *
 * @param queryIds the queries' ids, in file order
 * @param queries their texts
 * @param corpusIds the documents' ids, in file order
 * @param corpus their texts
 * @param relevant the relevant document ids of each query id
 */
public record RetrievalData(
        List<String> queryIds,
        List<String> queries,
        List<String> corpusIds,
        List<String> corpus,
        Map<String, Set<String>> relevant) {

    /** Reads the three files; every qrels id must name a query and a document. */
    public static RetrievalData read(Path queriesFile, Path corpusFile, Path qrelsFile)
            throws IOException {
        Map<String, String> queries = texts(queriesFile, false);
        Map<String, String> corpus = texts(corpusFile, true);
        Map<String, Set<String>> relevant = new LinkedHashMap<>();
        try (BufferedReader r = Files.newBufferedReader(qrelsFile, StandardCharsets.UTF_8)) {
            String line;
            int n = 0;
            while ((line = r.readLine()) != null) {
                n++;
                if (line.isBlank() || (n == 1 && line.startsWith("query-id"))) {
                    continue;
                }
                String[] f = line.split("\t");
                if (f.length != 3) {
                    throw new IllegalArgumentException(
                            qrelsFile + ":" + n + ": expected query-id<TAB>corpus-id<TAB>score");
                }
                double score;
                try {
                    score = Double.parseDouble(f[2].trim());
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException(
                            qrelsFile + ":" + n + ": score '" + f[2] + "' is not a number");
                }
                if (!queries.containsKey(f[0])) {
                    throw new IllegalArgumentException(
                            qrelsFile
                                    + ":"
                                    + n
                                    + ": query '"
                                    + f[0]
                                    + "' is not in "
                                    + queriesFile);
                }
                if (!corpus.containsKey(f[1])) {
                    throw new IllegalArgumentException(
                            qrelsFile
                                    + ":"
                                    + n
                                    + ": document '"
                                    + f[1]
                                    + "' is not in "
                                    + corpusFile);
                }
                if (score > 0) {
                    relevant.computeIfAbsent(f[0], k -> new LinkedHashSet<>()).add(f[1]);
                }
            }
        }
        return new RetrievalData(
                new ArrayList<>(queries.keySet()),
                new ArrayList<>(queries.values()),
                new ArrayList<>(corpus.keySet()),
                new ArrayList<>(corpus.values()),
                relevant);
    }

    private static Map<String, String> texts(Path file, boolean titles) throws IOException {
        Map<String, String> out = new LinkedHashMap<>();
        for (EmbeddingData.Line line : EmbeddingData.lines(file)) {
            String id = EmbeddingData.text(line, "_id");
            String text = EmbeddingData.text(line, "text");
            if (titles && line.object().has("title")) {
                String title = EmbeddingData.text(line, "title");
                text = title.isEmpty() ? text : title + " " + text;
            }
            if (out.put(id, text) != null) {
                throw line.error("duplicate _id '" + id + "'");
            }
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException(file + ": no rows");
        }
        return out;
    }
}
