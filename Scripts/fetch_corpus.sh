#!/usr/bin/env bash
# Fills the (git-ignored) evaluation corpus used by `aeflow evaluate` and BENCHMARKS.md "Detection quality".
#
#   Scripts/fetch_corpus.sh [DIR]        default DIR: corpus
#
# Real series: the Numenta Anomaly Benchmark (github.com/numenta/NAB, MIT licence, © Numenta), pinned to one
# commit: every data/<category>/*.csv (timestamp,value) and labels/combined_windows.json, the labelled
# anomaly windows, copied to DIR/labels.json. About 10 MB. With NAB_SOURCE=<a local NAB git clone> the files
# are read from that clone (git show at the pinned commit, or HEAD when the pinned commit is absent) instead
# of being downloaded.
#
# Synthetic series: `aeflow corpus synthetic` (Training/Synthetic's seasonal generator and numalogic's
# anomaly injection rules) writes DIR/synthetic/*.csv with a 0/1 label column, when an aeflow binary is given
# in AEFLOW (default .build/release/aeflow, skipped with a note when absent).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-corpus}
commit=ea702d75cc2258d9d7dd35ca8e5e2539d71f3140
base="https://raw.githubusercontent.com/numenta/NAB/$commit"
files=(
  artificialNoAnomaly/art_daily_no_noise.csv artificialNoAnomaly/art_daily_perfect_square_wave.csv
  artificialNoAnomaly/art_daily_small_noise.csv artificialNoAnomaly/art_flatline.csv artificialNoAnomaly/art_noisy.csv
  artificialWithAnomaly/art_daily_flatmiddle.csv artificialWithAnomaly/art_daily_jumpsdown.csv
  artificialWithAnomaly/art_daily_jumpsup.csv artificialWithAnomaly/art_daily_nojump.csv
  artificialWithAnomaly/art_increase_spike_density.csv artificialWithAnomaly/art_load_balancer_spikes.csv
  realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv realAWSCloudwatch/ec2_cpu_utilization_53ea38.csv
  realAWSCloudwatch/ec2_cpu_utilization_5f5533.csv realAWSCloudwatch/ec2_cpu_utilization_77c1ca.csv
  realAWSCloudwatch/ec2_cpu_utilization_825cc2.csv realAWSCloudwatch/ec2_cpu_utilization_ac20cd.csv
  realAWSCloudwatch/ec2_cpu_utilization_c6585a.csv realAWSCloudwatch/ec2_cpu_utilization_fe7f93.csv
  realAWSCloudwatch/ec2_disk_write_bytes_1ef3de.csv realAWSCloudwatch/ec2_disk_write_bytes_c0d644.csv
  realAWSCloudwatch/ec2_network_in_257a54.csv realAWSCloudwatch/ec2_network_in_5abac7.csv
  realAWSCloudwatch/elb_request_count_8c0756.csv realAWSCloudwatch/grok_asg_anomaly.csv
  realAWSCloudwatch/iio_us-east-1_i-a2eb1cd9_NetworkIn.csv realAWSCloudwatch/rds_cpu_utilization_cc0c53.csv
  realAWSCloudwatch/rds_cpu_utilization_e47b3b.csv
  realAdExchange/exchange-2_cpc_results.csv realAdExchange/exchange-2_cpm_results.csv
  realAdExchange/exchange-3_cpc_results.csv realAdExchange/exchange-3_cpm_results.csv
  realAdExchange/exchange-4_cpc_results.csv realAdExchange/exchange-4_cpm_results.csv
  realKnownCause/ambient_temperature_system_failure.csv realKnownCause/cpu_utilization_asg_misconfiguration.csv
  realKnownCause/ec2_request_latency_system_failure.csv realKnownCause/machine_temperature_system_failure.csv
  realKnownCause/nyc_taxi.csv realKnownCause/rogue_agent_key_hold.csv realKnownCause/rogue_agent_key_updown.csv
  realTraffic/TravelTime_387.csv realTraffic/TravelTime_451.csv realTraffic/occupancy_6005.csv
  realTraffic/occupancy_t4013.csv realTraffic/speed_6005.csv realTraffic/speed_7578.csv realTraffic/speed_t4013.csv
  realTweets/Twitter_volume_AAPL.csv realTweets/Twitter_volume_AMZN.csv realTweets/Twitter_volume_CRM.csv
  realTweets/Twitter_volume_CVS.csv realTweets/Twitter_volume_FB.csv realTweets/Twitter_volume_GOOG.csv
  realTweets/Twitter_volume_IBM.csv realTweets/Twitter_volume_KO.csv realTweets/Twitter_volume_PFE.csv
  realTweets/Twitter_volume_UPS.csv
)

fetch() {  # fetch <path in NAB> <destination>
  if [ -n "${NAB_SOURCE:-}" ]; then
    local rev=$commit
    git -C "$NAB_SOURCE" cat-file -e "$commit^{commit}" 2>/dev/null || rev=HEAD
    git -C "$NAB_SOURCE" show "$rev:$1" > "$2.tmp"
  else
    curl -fsSL --retry 3 -o "$2.tmp" "$base/$1"
  fi
  mv "$2.tmp" "$2"
}

mkdir -p "$dir"
n=0
for f in "${files[@]}"; do
  mkdir -p "$dir/$(dirname "$f")"
  [ -s "$dir/$f" ] || fetch "data/$f" "$dir/$f"
  n=$((n + 1))
  printf '\rNAB: %d/%d series' "$n" "${#files[@]}"
done
fetch labels/combined_windows.json "$dir/labels.json"
printf '\rNAB: %d series and labels.json in %s (MIT licence, numenta/NAB@%s)\n' "$n" "$dir" "${commit:0:7}"

aeflow=${AEFLOW:-.build/release/aeflow}
if [ -x "$aeflow" ]; then
  "$aeflow" corpus synthetic --output "$dir/synthetic"
else
  echo "synthetic series skipped: no $aeflow (build it, or set AEFLOW)"
fi
