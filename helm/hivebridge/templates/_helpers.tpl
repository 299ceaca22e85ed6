{{/* Names, labels and the checks every template relies on. */}}

{{- define "hivebridge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hivebridge.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "hivebridge.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hivebridge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "hivebridge.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "hivebridge.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "hivebridge.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "hivebridge.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret holding the JWT key and the AMQP URL. */}}
{{- define "hivebridge.secretName" -}}
{{- default (include "hivebridge.fullname" .) .Values.existingSecret.name }}
{{- end }}

{{/* Key of the JWT material in that Secret, and the file it is mounted as. */}}
{{- define "hivebridge.jwtSecretKey" -}}
{{- if .Values.existingSecret.name }}
{{- if eq .Values.jwt.type "publicKey" }}{{ .Values.existingSecret.jwtPublicKeyKey }}{{ else }}{{ .Values.existingSecret.jwtSecretKey }}{{ end }}
{{- else }}
{{- if eq .Values.jwt.type "publicKey" }}jwt-public-key{{ else }}jwt-secret{{ end }}
{{- end }}
{{- end }}

{{- define "hivebridge.jwtFile" -}}
{{- if eq .Values.jwt.type "publicKey" }}public-key.pem{{ else }}secret{{ end }}
{{- end }}

{{- define "hivebridge.amqpUrlKey" -}}
{{- if .Values.existingSecret.name }}{{ .Values.existingSecret.amqpUrlKey }}{{ else }}amqp-url{{ end }}
{{- end }}

{{/* Cluster mode with signed messages: non-empty when the pod gets --cluster-key-file. */}}
{{- define "hivebridge.clusterKeyed" -}}
{{- if and (eq .Values.bus.type "amqp") (not .Values.cluster.insecureUnsigned) }}true{{ end }}
{{- end }}

{{/* The Secret holding the cluster key: the operator's, or the one the chart generates. */}}
{{- define "hivebridge.clusterKeySecretName" -}}
{{- default (printf "%s-cluster-key" (include "hivebridge.fullname" .)) .Values.cluster.keySecret.existingSecret }}
{{- end }}

{{/* Shutdown: preStop sleep + drain + slack for closing connections (3 s in the server). */}}
{{- define "hivebridge.minGracePeriod" -}}
{{- add .Values.drain.preStopSleepSeconds .Values.drain.timeoutSeconds 5 }}
{{- end }}

{{- define "hivebridge.terminationGracePeriodSeconds" -}}
{{- if kindIs "invalid" .Values.terminationGracePeriodSeconds }}
{{- add .Values.drain.preStopSleepSeconds .Values.drain.timeoutSeconds 10 }}
{{- else }}
{{- .Values.terminationGracePeriodSeconds }}
{{- end }}
{{- end }}

{{/* Refuses value combinations that would deploy a broken bridge. */}}
{{- define "hivebridge.validate" -}}
{{- $clustered := or (gt (int .Values.replicaCount) 1) .Values.autoscaling.enabled }}
{{- if and $clustered (ne .Values.bus.type "amqp") }}
{{- fail (printf "hivebridge: replicaCount=%v%s needs cluster mode, but bus.type is %q. With the in-process bus a backend on one replica cannot reach devices connected to another. Set bus.type=amqp and bus.amqpUrl (or existingSecret.name), or run one replica with autoscaling.enabled=false." .Values.replicaCount (ternary " with autoscaling.enabled=true" "" .Values.autoscaling.enabled) .Values.bus.type) }}
{{- end }}
{{- if and (eq .Values.bus.type "amqp") (not .Values.existingSecret.name) (not .Values.bus.amqpUrl) }}
{{- fail "hivebridge: bus.type=amqp needs bus.amqpUrl (amqp[s]://user:pass@host:port/vhost) or existingSecret.name with the URL under existingSecret.amqpUrlKey." }}
{{- end }}
{{- if and .Values.cluster.insecureUnsigned .Values.cluster.keySecret.existingSecret }}
{{- fail "hivebridge: cluster.insecureUnsigned=true and cluster.keySecret.existingSecret exclude each other: with a key the replicas sign their messages; give one." }}
{{- end }}
{{- if and (eq .Values.jwt.type "publicKey") (not .Values.existingSecret.name) (not .Values.jwt.publicKey) }}
{{- fail "hivebridge: jwt.type=publicKey needs jwt.publicKey (PEM) or existingSecret.name with the key under existingSecret.jwtPublicKeyKey." }}
{{- end }}
{{- if and .Values.jwt.secret (lt (len .Values.jwt.secret) 32) }}
{{- fail (printf "hivebridge: jwt.secret is %d bytes; HS256 needs at least 32 (or leave it empty and the chart generates one)." (len .Values.jwt.secret)) }}
{{- end }}
{{- if and .Values.tls.enabled (not .Values.tls.secretName) }}
{{- fail "hivebridge: tls.enabled=true needs tls.secretName, a kubernetes.io/tls Secret with tls.crt and tls.key." }}
{{- end }}
{{- if and .Values.grpcTls.enabled (not .Values.grpcTls.secretName) }}
{{- fail "hivebridge: grpcTls.enabled=true needs grpcTls.secretName, a kubernetes.io/tls Secret with tls.crt and tls.key." }}
{{- end }}
{{- if and .Values.grpcTls.clientCaSecretName (not .Values.grpcTls.enabled) }}
{{- fail "hivebridge: grpcTls.clientCaSecretName (mTLS) needs grpcTls.enabled=true and grpcTls.secretName: client certificates are asked for only over TLS." }}
{{- end }}
{{- if and .Values.httpGateway.enabled (not .Values.backendPolicy.secretName) (not .Values.httpGateway.allowWithoutPolicy) }}
{{- fail "hivebridge: httpGateway.enabled=true needs backendPolicy.secretName (callers present a bearer token), or httpGateway.allowWithoutPolicy=true to serve the API to anyone who reaches the port." }}
{{- end }}
{{- $svc := .Values.service }}
{{- if and (eq $svc.type "ClusterIP") $svc.externalTrafficPolicy }}
{{- fail (printf "hivebridge: service.externalTrafficPolicy=%s needs service.type NodePort or LoadBalancer (a ClusterIP Service has no external traffic)." $svc.externalTrafficPolicy) }}
{{- end }}
{{- if and (eq $svc.type "ClusterIP") (or $svc.nodePorts.grpc $svc.nodePorts.ws $svc.nodePorts.http) }}
{{- fail "hivebridge: service.nodePorts needs service.type NodePort or LoadBalancer (a ClusterIP Service has no node ports)." }}
{{- end }}
{{- if and (ne $svc.type "LoadBalancer") (or $svc.loadBalancerIP $svc.loadBalancerClass $svc.loadBalancerSourceRanges) }}
{{- fail (printf "hivebridge: service.loadBalancerIP, loadBalancerClass and loadBalancerSourceRanges need service.type=LoadBalancer (it is %s)." $svc.type) }}
{{- end }}
{{- if and $svc.sessionAffinityTimeoutSeconds (ne $svc.sessionAffinity "ClientIP") }}
{{- fail "hivebridge: service.sessionAffinityTimeoutSeconds needs service.sessionAffinity=ClientIP." }}
{{- end }}
{{- range $k, $v := .Values.podLabels }}
{{- if hasKey (include "hivebridge.selectorLabels" $ | fromYaml) $k }}
{{- fail (printf "hivebridge: podLabels.%s would replace a selector label of the Deployment; the Service, PodDisruptionBudget and NetworkPolicy would lose the pods. Use another key, or nameOverride." $k) }}
{{- end }}
{{- end }}
{{- range .Values.extraArgs }}
{{- $flag := regexFind "^--[a-z0-9-]+" . }}
{{- if has $flag (list "--ws-listen" "--grpc-listen" "--jwt-secret-file" "--jwt-public-key-file" "--tls-cert" "--tls-key" "--grpc-tls-cert" "--grpc-tls-key" "--grpc-client-ca" "--backend-policy-file" "--drain-timeout" "--cluster-key-file" "--cluster-insecure-unsigned") }}
{{- fail (printf "hivebridge: extraArgs %q repeats a flag the chart sets from its values (container ports, Secret mounts, drain): set the value (tls.*, grpcTls.*, jwt.*, backendPolicy.*, cluster.*, drain.timeoutSeconds) instead." .) }}
{{- end }}
{{- if eq $flag "--bus" }}
{{- fail "hivebridge: extraArgs --bus would put the AMQP URL and its password in the pod spec: set bus.type and bus.amqpUrl (or existingSecret.name) instead." }}
{{- end }}
{{- end }}
{{- $grace := int (include "hivebridge.terminationGracePeriodSeconds" .) }}
{{- $min := int (include "hivebridge.minGracePeriod" .) }}
{{- if lt $grace $min }}
{{- fail (printf "hivebridge: terminationGracePeriodSeconds=%d is shorter than drain.preStopSleepSeconds + drain.timeoutSeconds + 5 = %d; Kubernetes would kill the bridge in the middle of its drain." $grace $min) }}
{{- end }}
{{- end }}
