{{/* Chart name, truncated to the 63 characters Kubernetes names allow. */}}
{{- define "aeflow.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-qualified name. */}}
{{- define "aeflow.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "aeflow.selectorLabels" -}}
app.kubernetes.io/name: {{ include "aeflow.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "aeflow.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "aeflow.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "aeflow.image" -}}
{{- printf "%s:%s" (required "image.repository is required: the image you built from the Dockerfile and pushed (README, \"Container image\")" .Values.image.repository) (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/*
The AEFlow configuration: the chart's sockets, HTTP endpoints and data paths, with .Values.config merged
over them (so any AEFlow or numalogic key can be set from values).
*/}}
{{- define "aeflow.config" -}}
{{- $data := "/var/lib/aeflow" -}}
{{- $outputs := dict
      "scores" (dict "endpoint" (printf "tcp://0.0.0.0:%v" .Values.ports.scores) "type" "pub" "bind" true)
      "train_requests" (dict "endpoint" (printf "ipc://%s/run/train.ipc" $data) "type" "push" "bind" true) -}}
{{- if .Values.retrain.enabled -}}
{{- $_ := set $outputs "history" (dict "endpoint" (printf "ipc://%s/run/history.ipc" $data) "type" "push" "bind" true) -}}
{{- else -}}
{{- $_ := set $outputs "history" nil -}}
{{- end -}}
{{- $base := dict
      "inputs" (list (dict "endpoint" (printf "tcp://0.0.0.0:%v" .Values.ports.input) "type" "sub" "bind" true "topics" (list "")))
      "outputs" $outputs
      "http" (dict "address" "0.0.0.0" "port" .Values.ports.http)
      "store" (dict "path" (printf "%s/models" $data))
      "history" (dict "path" (printf "%s/history.sqlite" $data))
      "retrain" (dict "http" (dict "address" "0.0.0.0" "port" .Values.ports.retrainHttp)) -}}
{{- if .Values.auth.existingSecret -}}
{{- /* The token stays in its Secret: the containers get it as AEFLOW_BEARER_TOKEN, the config refers to it. */ -}}
{{- $_ := set (index $base "http") "bearer_token" "${AEFLOW_BEARER_TOKEN}" -}}
{{- $_ := set (index (index $base "retrain") "http") "bearer_token" "${AEFLOW_BEARER_TOKEN}" -}}
{{- end -}}
{{- if .Values.curve.enabled -}}
{{- $_ := set $base "security" (dict "curve" (dict "secret_key_file" "/etc/aeflow/curve/aeflow.key_secret" "allowed_clients" (list "/etc/aeflow/clients"))) -}}
{{- end -}}
{{- $config := mergeOverwrite $base (omit (deepCopy .Values.config) "stream_confs") -}}
{{- if .Values.config.stream_confs -}}
{{- $_ := set $config "stream_confs" .Values.config.stream_confs -}}
{{- end -}}
{{- toYaml $config -}}
{{- end -}}

{{/*
The bearer token from auth.existingSecret (key `token`) as AEFLOW_BEARER_TOKEN, which the configuration expands.
*/}}
{{- define "aeflow.tokenEnv" -}}
{{- if .Values.auth.existingSecret -}}
env:
  - name: AEFLOW_BEARER_TOKEN
    valueFrom:
      secretKeyRef: {name: {{ .Values.auth.existingSecret | quote }}, key: token}
{{- end -}}
{{- end -}}
