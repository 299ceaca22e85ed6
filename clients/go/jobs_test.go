package hivebridge

import (
	"context"
	"io"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	bridgev1 "github.com/hivebridge/hivebridge/clients/go/gen/hive/bridge/v1"
)

// fakeJobStream is one WatchJob stream: its changes, then err.
type fakeJobStream struct {
	grpc.ClientStream
	changes []*bridgev1.WatchJobResponse
	err     error
}

func (s *fakeJobStream) Recv() (*bridgev1.WatchJobResponse, error) {
	if len(s.changes) == 0 {
		return nil, s.err
	}
	c := s.changes[0]
	s.changes = s.changes[1:]
	return c, nil
}

type jobsClient struct {
	bridgev1.FleetJobsClient
	streams  []*fakeJobStream
	watches  []*bridgev1.WatchJobRequest
	pages    []*bridgev1.ListJobsResponse
	listed   []*bridgev1.ListJobsRequest
	getError error
}

func (c *jobsClient) WatchJob(_ context.Context, in *bridgev1.WatchJobRequest,
	_ ...grpc.CallOption) (bridgev1.FleetJobs_WatchJobClient, error) {
	c.watches = append(c.watches, in)
	s := c.streams[0]
	c.streams = c.streams[1:]
	return s, nil
}

func (c *jobsClient) ListJobs(_ context.Context, in *bridgev1.ListJobsRequest,
	_ ...grpc.CallOption) (*bridgev1.ListJobsResponse, error) {
	c.listed = append(c.listed, in)
	page := c.pages[0]
	c.pages = c.pages[1:]
	return page, nil
}

func (c *jobsClient) GetJob(_ context.Context, in *bridgev1.GetJobRequest,
	_ ...grpc.CallOption) (*bridgev1.GetJobResponse, error) {
	return nil, c.getError
}

func jobsBridge(c *jobsClient) *Bridge {
	b := newBridge(nil, defaultOptions())
	b.Jobs = c
	b.sleep = func(context.Context, time.Duration) error { return nil }
	return b
}

func change(seq uint64, state bridgev1.JobState, device string) *bridgev1.WatchJobResponse {
	r := &bridgev1.WatchJobResponse{Sequence: seq, Job: &bridgev1.Job{JobId: "j", State: state}}
	if device != "" {
		r.Outcome = &bridgev1.JobDeviceOutcome{DeviceId: device, Status: bridgev1.RequestStatus_REQUEST_STATUS_SUCCEEDED}
	}
	return r
}

func TestJobWatchResumesAfterTheLastSequenceAndEndsWithTheJob(t *testing.T) {
	running, completed := bridgev1.JobState_JOB_STATE_RUNNING, bridgev1.JobState_JOB_STATE_COMPLETED
	c := &jobsClient{streams: []*fakeJobStream{
		{changes: []*bridgev1.WatchJobResponse{change(1, running, ""), change(2, running, "d")},
			err: status.Error(codes.Unavailable, "gone")},
		{changes: []*bridgev1.WatchJobResponse{change(3, completed, "")}, err: io.EOF},
	}}
	w := jobsBridge(c).WatchJob(context.Background(), "j", 0)
	var got []uint64
	for r, err := w.Next(); ; r, err = w.Next() {
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		got = append(got, r.GetSequence())
	}
	if len(got) != 3 || got[0] != 1 || got[2] != 3 {
		t.Fatalf("sequences %v, want [1 2 3]", got)
	}
	if c.watches[1].GetResumeAfter() != 2 || c.watches[1].GetJobId() != "j" {
		t.Errorf("resumed with %v, want resume_after 2", c.watches[1])
	}
	if w.Reconnects() != 1 || w.Sequence() != 3 || w.Job().GetState() != completed {
		t.Errorf("reconnects %d sequence %d state %v", w.Reconnects(), w.Sequence(), w.Job().GetState())
	}
	if _, err := w.Next(); err != io.EOF || len(c.watches) != 2 {
		t.Errorf("after the end: %v and %d streams, want io.EOF and no new stream", err, len(c.watches))
	}
}

func TestJobWatchReturnsWhatANewStreamCannotFix(t *testing.T) {
	c := &jobsClient{streams: []*fakeJobStream{{err: status.Error(codes.NotFound, "no job")}}}
	w := jobsBridge(c).WatchJob(context.Background(), "j", 7)
	if _, err := w.Next(); status.Code(err) != codes.NotFound {
		t.Fatalf("Next: %v, want NotFound", err)
	}
	if c.watches[0].GetResumeAfter() != 7 || len(c.watches) != 1 {
		t.Errorf("watches %v", c.watches)
	}
}

func TestListJobsFollowsEveryPageKeepingTheFilter(t *testing.T) {
	c := &jobsClient{pages: []*bridgev1.ListJobsResponse{
		{Jobs: []*bridgev1.Job{{JobId: "a"}}, NextPageToken: "p2"},
		{Jobs: []*bridgev1.Job{{JobId: "b"}}},
	}}
	completed := []bridgev1.JobState{bridgev1.JobState_JOB_STATE_COMPLETED}
	jobs, err := jobsBridge(c).ListJobs(context.Background(), &bridgev1.ListJobsRequest{States: completed, PageSize: 1})
	if err != nil || len(jobs) != 2 || jobs[1].GetJobId() != "b" {
		t.Fatalf("ListJobs: %v %v", jobs, err)
	}
	if c.listed[1].GetPageToken() != "p2" || len(c.listed[1].GetStates()) != 1 || c.listed[1].GetPageSize() != 1 {
		t.Errorf("second page asked with %v", c.listed[1])
	}
}

func TestGetJobPassesTheStatusError(t *testing.T) {
	c := &jobsClient{getError: status.Error(codes.NotFound, "no job")}
	if job, err := jobsBridge(c).GetJob(context.Background(), "j"); job != nil || status.Code(err) != codes.NotFound {
		t.Errorf("GetJob: %v %v, want nil and NotFound", job, err)
	}
}
